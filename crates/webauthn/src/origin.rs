//! Which origins may run a ceremony for this relying party (§7.1 step 9,
//! §7.2 step 13, and the crossOrigin/topOrigin members).

use std::fmt;

/// A configured origin could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidOrigin(pub String);

impl fmt::Display for InvalidOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid origin {:?}", self.0)
    }
}

impl std::error::Error for InvalidOrigin {}

/// The origins a relying party accepts in `clientDataJSON`.
///
/// By default matching is exact: scheme, host and port must equal one of the
/// configured origins, with no prefix, suffix or subdomain matching. Anything
/// looser is an explicit call on this value, so it shows in configuration and
/// review rather than hiding in a comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    exact: Vec<String>,
    subdomains_of: Vec<SiteOrigin>,
    cross_origin: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SiteOrigin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

/// The serialised form a browser puts in `origin`: web origins are parsed and
/// re-serialised (so `https://Example.org:443/` becomes `https://example.org`);
/// other schemes (`android:apk-key-hash:…`, `ios:bundle-id:…`) are kept as given.
fn normalise(origin: &str) -> Result<String, InvalidOrigin> {
    match url::Url::parse(origin) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => {
            let bare = url.host_str().is_some()
                && url.path() == "/"
                && url.query().is_none()
                && url.fragment().is_none()
                && url.username().is_empty()
                && url.password().is_none();
            if !bare {
                return Err(InvalidOrigin(origin.to_owned()));
            }
            Ok(url.origin().ascii_serialization())
        }
        // Url::parse refuses the empty string, so this is never "".
        Ok(_) => Ok(origin.to_owned()),
        Err(_) => Err(InvalidOrigin(origin.to_owned())),
    }
}

fn normalise_all<I, S>(origins: I) -> Result<Vec<String>, InvalidOrigin>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    origins.into_iter().map(|o| normalise(o.as_ref())).collect()
}

fn site(origin: &str) -> Option<SiteOrigin> {
    let url = url::Url::parse(origin).ok()?;
    Some(SiteOrigin {
        scheme: url.scheme().to_owned(),
        host: url.host_str()?.to_ascii_lowercase(),
        port: url.port_or_known_default(),
    })
}

impl OriginPolicy {
    /// Accept exactly these origins (e.g. `https://login.example.com`).
    ///
    /// Errors when an origin is not a bare web origin (no path, query) or an
    /// app origin such as `android:apk-key-hash:…`.
    pub fn exact<I, S>(origins: I) -> Result<Self, InvalidOrigin>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(OriginPolicy {
            exact: normalise_all(origins)?,
            ..OriginPolicy::default()
        })
    }

    /// Also accept every subdomain of `origin`'s host, with the same scheme and
    /// port: `https://example.com` then admits `https://a.b.example.com`.
    pub fn allow_subdomains_of(mut self, origin: &str) -> Result<Self, InvalidOrigin> {
        let normalised = normalise(origin)?;
        let site = site(&normalised).ok_or_else(|| InvalidOrigin(origin.to_owned()))?;
        self.subdomains_of.push(site);
        Ok(self)
    }

    /// Accept ceremonies run in a cross-origin iframe (`crossOrigin: true`),
    /// embedded by one of `top_origins` when the browser reports `topOrigin`.
    pub fn allow_cross_origin<I, S>(mut self, top_origins: I) -> Result<Self, InvalidOrigin>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.cross_origin = Some(normalise_all(top_origins)?);
        Ok(self)
    }

    /// The exactly matched origins, normalised.
    pub fn origins(&self) -> &[String] {
        &self.exact
    }

    pub(crate) fn allows_origin(&self, origin: &str) -> bool {
        if self.exact.iter().any(|o| o == origin) {
            return true;
        }
        if self.subdomains_of.is_empty() {
            return false;
        }
        // Only a canonical origin string may match a subdomain rule, so that
        // `https://a.example.com/` or upper case cannot slip past exact rules.
        let Ok(canonical) = normalise(origin) else {
            return false;
        };
        if canonical != origin {
            return false;
        }
        let Some(candidate) = site(origin) else {
            return false;
        };
        self.subdomains_of.iter().any(|base| {
            base.scheme == candidate.scheme
                && base.port == candidate.port
                && candidate
                    .host
                    .strip_suffix(base.host.as_str())
                    .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1)
        })
    }

    pub(crate) fn allows_cross_origin(&self) -> bool {
        self.cross_origin.is_some()
    }

    pub(crate) fn allows_top_origin(&self, top: &str) -> bool {
        self.cross_origin
            .as_ref()
            .is_some_and(|tops| tops.iter().any(|t| t == top))
    }
}

#[cfg(test)]
mod tests;
