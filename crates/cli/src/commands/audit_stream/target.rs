//! Where `keybound audit stream --to URL` delivers: the URL parsed into a
//! target, and the stream's default name (the key of its cursor).

use std::path::PathBuf;

/// The longest stream name (`--name`, or one derived from the URL).
pub(crate) const MAX_NAME: usize = 200;

/// The longest `--to` URL accepted.
const MAX_URL: usize = 2048;

/// How syslog messages are delimited on a TCP stream (RFC 6587).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `LEN SP MSG` (RFC 6587 §3.4.1; the only framing of RFC 5425 TLS).
    OctetCounting,
    /// `MSG LF` (RFC 6587 §3.4.2): safe here because a line of audit JSON
    /// never holds a raw LF (JSON escapes it).
    Lf,
}

/// A parsed `--to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `file:PATH`: JSON lines appended, fsync'd per page.
    File(PathBuf),
    /// `-`: JSON lines on standard output, flushed per page.
    Stdout,
    /// `syslog+tcp://host:port` (`?framing=lf` for LF framing).
    SyslogTcp {
        host: String,
        port: u16,
        framing: Framing,
    },
    /// `syslog+tls://host:port`: RFC 5425, octet counting.
    SyslogTls { host: String, port: u16 },
    /// `otlp+http://host:port/v1/logs` or `otlp+https://…`: the URL
    /// posted to (plain `http`/`https`).
    Otlp { url: url::Url },
}

impl Target {
    /// Parses `--to`; the error says what is wrong in words.
    pub(crate) fn parse(text: &str) -> Result<Target, String> {
        if text.len() > MAX_URL {
            return Err(format!("--to: longer than {MAX_URL} bytes"));
        }
        if text.chars().any(char::is_control) {
            return Err("--to: holds a control character".into());
        }
        if text == "-" {
            return Ok(Target::Stdout);
        }
        if let Some(path) = text.strip_prefix("file:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("--to file:PATH: the path is empty".into());
            }
            return Ok(Target::File(PathBuf::from(path)));
        }
        let url = url::Url::parse(text).map_err(|e| format!("--to {text:?}: {e}"))?;
        let host = || {
            url.host_str()
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| format!("--to {text:?}: no host"))
        };
        let port = || {
            url.port()
                .ok_or_else(|| format!("--to {text:?}: no port (write host:port)"))
        };
        match url.scheme() {
            "syslog+tcp" | "syslog+tls" => {
                if !matches!(url.path(), "" | "/") {
                    return Err(format!("--to {text:?}: a syslog URL has no path"));
                }
                let framing = match url.query() {
                    None | Some("") | Some("framing=octet-counting") => Framing::OctetCounting,
                    Some("framing=lf") if url.scheme() == "syslog+tcp" => Framing::Lf,
                    Some(other) => {
                        return Err(format!(
                            "--to {text:?}: unknown option {other:?} \
                             (syslog+tcp takes ?framing=lf or ?framing=octet-counting)"
                        ))
                    }
                };
                let (host, port) = (host()?, port()?);
                if url.scheme() == "syslog+tls" {
                    return Ok(Target::SyslogTls { host, port });
                }
                Ok(Target::SyslogTcp {
                    host,
                    port,
                    framing,
                })
            }
            "otlp+http" | "otlp+https" => {
                host()?;
                port()?;
                let plain = if url.scheme() == "otlp+http" {
                    "http"
                } else {
                    "https"
                };
                let rest = text
                    .split_once("://")
                    .map(|(_, rest)| rest)
                    .unwrap_or_default();
                let mut posted = url::Url::parse(&format!("{plain}://{rest}"))
                    .map_err(|e| format!("--to {text:?}: {e}"))?;
                if matches!(posted.path(), "" | "/") {
                    posted.set_path("/v1/logs");
                }
                Ok(Target::Otlp { url: posted })
            }
            other => Err(format!(
                "--to {text:?}: unknown scheme {other:?} (expected file:PATH, -, \
                 syslog+tcp://, syslog+tls://, otlp+http:// or otlp+https://)"
            )),
        }
    }

    /// The stream's name when `--name` is not given: the URL without
    /// credentials or query, so two runs to the same place share a cursor.
    pub(crate) fn default_name(&self) -> String {
        match self {
            Target::File(path) => format!("file:{}", path.display()),
            Target::Stdout => "stdout".into(),
            Target::SyslogTcp { host, port, .. } => format!("syslog+tcp://{host}:{port}"),
            Target::SyslogTls { host, port } => format!("syslog+tls://{host}:{port}"),
            Target::Otlp { url } => format!(
                "otlp+{}://{}:{}{}",
                url.scheme(),
                url.host_str().unwrap_or_default(),
                url.port_or_known_default().unwrap_or_default(),
                url.path()
            ),
        }
    }
}

/// Checks a stream name: printable, not empty, at most [`MAX_NAME`] bytes.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("--name: empty".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "stream name longer than {MAX_NAME} bytes (give a shorter --name)"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("--name: holds a control character".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_parses_and_names_itself() {
        assert_eq!(Target::parse("-").unwrap(), Target::Stdout);
        assert_eq!(
            Target::parse("file:/var/log/kb.jsonl").unwrap(),
            Target::File("/var/log/kb.jsonl".into())
        );
        assert_eq!(
            Target::parse("syslog+tcp://siem.example:6514").unwrap(),
            Target::SyslogTcp {
                host: "siem.example".into(),
                port: 6514,
                framing: Framing::OctetCounting
            }
        );
        assert_eq!(
            Target::parse("syslog+tcp://h:1?framing=lf").unwrap(),
            Target::SyslogTcp {
                host: "h".into(),
                port: 1,
                framing: Framing::Lf
            }
        );
        let tls = Target::parse("syslog+tls://h:6514").unwrap();
        assert_eq!(tls.default_name(), "syslog+tls://h:6514");
        let otlp = Target::parse("otlp+http://127.0.0.1:4318/v1/logs").unwrap();
        assert_eq!(
            otlp,
            Target::Otlp {
                url: url::Url::parse("http://127.0.0.1:4318/v1/logs").unwrap()
            }
        );
        assert_eq!(otlp.default_name(), "otlp+http://127.0.0.1:4318/v1/logs");
        let bare = Target::parse("otlp+https://c.example:4318").unwrap();
        assert_eq!(bare.default_name(), "otlp+https://c.example:4318/v1/logs");
    }

    #[test]
    fn hostile_urls_are_refused_in_words() {
        let err = |t: &str| Target::parse(t).unwrap_err();
        assert!(err("gopher://h:1").contains("unknown scheme"));
        assert!(err("syslog+udp://h:514").contains("unknown scheme"));
        assert!(err("syslog+tcp://h").contains("no port"));
        assert!(err("otlp+http://h/v1/logs").contains("no port"));
        assert!(err("syslog+tcp://h:1/x").contains("no path"));
        assert!(err("syslog+tls://h:1?framing=lf").contains("unknown option"));
        assert!(err("file:").contains("empty"));
        assert!(err("nothing").contains("relative URL"));
        assert!(err(&format!("file:/{}", "a".repeat(5000))).contains("longer"));
        assert!(err("file:/a\nb").contains("control"));
        assert!(err("syslog+tcp://h:99999").contains("invalid port"));
    }

    #[test]
    fn names_are_bounded_and_printable() {
        assert!(check_name("siem").is_ok());
        assert!(check_name(&"n".repeat(MAX_NAME)).is_ok());
        assert!(check_name(&"n".repeat(MAX_NAME + 1)).is_err());
        assert!(check_name("").is_err());
        assert!(check_name("a\0b").is_err());
    }
}
