//! User-Agent Client Hints (<https://wicg.github.io/ua-client-hints/>):
//! `Sec-CH-UA-Platform`, `Sec-CH-UA-Platform-Version`, `Sec-CH-UA` and
//! `Sec-CH-UA-Full-Version-List`, each a Structured Field (RFC 8941). They
//! come from the client, so each is bounded and parsed strictly: a header
//! that is too long, not the grammar, or not printable ASCII is as if it
//! had not been sent. Sans-IO: the server hands the raw header values in.

/// The longest `Sec-CH-UA-Platform` / `-Platform-Version` value read.
pub const MAX_HINT: usize = 64;
/// The longest brand list (`Sec-CH-UA`, `-Full-Version-List`) read.
pub const MAX_BRAND_LIST: usize = 512;
/// The most brands a list may name.
pub const MAX_BRANDS: usize = 8;
/// The longest brand name or version kept.
pub const MAX_BRAND_FIELD: usize = 48;

/// What the browser claimed about itself, each part present only when its
/// header was sent and well formed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHints {
    /// `Sec-CH-UA-Platform`: `Windows`, `macOS`, `Linux`, `Android`…
    pub platform: Option<String>,
    /// `Sec-CH-UA-Platform-Version`: `15.0.0`, `14.4.1`…
    pub platform_version: Option<String>,
    /// The browser brand and version: from `Sec-CH-UA-Full-Version-List`
    /// when sent, else `Sec-CH-UA` (a major version only). The GREASE
    /// brand is skipped and a specific brand (`Google Chrome`) is
    /// preferred to `Chromium`.
    pub browser: Option<(String, String)>,
}

impl ClientHints {
    /// The hints from the raw header values (bytes as received).
    pub fn from_headers(
        platform: Option<&[u8]>,
        platform_version: Option<&[u8]>,
        ua: Option<&[u8]>,
        full_version_list: Option<&[u8]>,
    ) -> ClientHints {
        let one = |value: Option<&[u8]>| {
            value
                .filter(|v| v.len() <= MAX_HINT)
                .and_then(sf_string_item)
                .filter(|s| !s.is_empty())
        };
        let browser = full_version_list
            .and_then(brand_list)
            .and_then(|brands| pick_brand(&brands))
            .or_else(|| ua.and_then(brand_list).and_then(|b| pick_brand(&b)));
        ClientHints {
            platform: one(platform),
            platform_version: one(platform_version),
            browser,
        }
    }

    /// Whether no hint was usable.
    pub fn is_empty(&self) -> bool {
        self.platform.is_none() && self.platform_version.is_none() && self.browser.is_none()
    }
}

/// A bare sf-string item (optional surrounding spaces), no parameters.
fn sf_string_item(value: &[u8]) -> Option<String> {
    let value = trim(value);
    let (s, rest) = sf_string(value)?;
    trim(rest).is_empty().then_some(s)
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// An sf-string at the start of `v` (RFC 8941 §4.2.5): `"`, printable
/// ASCII with `\"` and `\\` escapes, `"`. The string and what follows.
fn sf_string(v: &[u8]) -> Option<(String, &[u8])> {
    let [b'"', rest @ ..] = v else {
        return None;
    };
    let mut out = String::new();
    let mut at = rest;
    loop {
        match at {
            [b'"', tail @ ..] => return Some((out, tail)),
            [b'\\', c @ (b'"' | b'\\'), tail @ ..] => {
                out.push(char::from(*c));
                at = tail;
            }
            [c @ 0x20..=0x7e, tail @ ..] if *c != b'\\' => {
                out.push(char::from(*c));
                at = tail;
            }
            _ => return None,
        }
    }
}

/// A brand list (`"Chromium";v="126", "Not-A.Brand";v="8"`): each member
/// an sf-string with a `v` parameter holding an sf-string. Bounded; any
/// deviation refuses the whole list.
fn brand_list(value: &[u8]) -> Option<Vec<(String, String)>> {
    if value.len() > MAX_BRAND_LIST {
        return None;
    }
    let mut brands = Vec::new();
    let mut at = trim(value);
    while !at.is_empty() {
        let (brand, rest) = sf_string(at)?;
        let rest = rest.strip_prefix(b";v=")?;
        let (version, rest) = sf_string(rest)?;
        if brand.is_empty() || brand.len() > MAX_BRAND_FIELD || version.len() > MAX_BRAND_FIELD {
            return None;
        }
        brands.push((brand, version));
        if brands.len() > MAX_BRANDS {
            return None;
        }
        let rest = trim(rest);
        at = match rest {
            [] => rest,
            [b',', tail @ ..] => {
                let tail = trim(tail);
                if tail.is_empty() {
                    return None; // a trailing comma
                }
                tail
            }
            _ => return None,
        };
    }
    (!brands.is_empty()).then_some(brands)
}

/// The brand that names the browser: not GREASE (Chromium's made-up
/// brands all contain `Brand`), a specific one before `Chromium`.
fn pick_brand(brands: &[(String, String)]) -> Option<(String, String)> {
    let real = || brands.iter().filter(|(b, _)| !b.contains("Brand"));
    real()
        .find(|(b, _)| b != "Chromium")
        .or_else(|| real().next())
        .cloned()
}

#[cfg(test)]
mod tests;
