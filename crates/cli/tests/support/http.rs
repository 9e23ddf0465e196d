//! Talking to a `keybound serve` over plain HTTP/1.1 as a browser would,
//! with the software authenticator answering the ceremonies.

use std::io::{Read, Write};
use std::net::TcpStream;

use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony, Credential};
use serde_json::{json, Value};

use super::Server;

pub const RP_ID: &str = "kb.test";
pub const ORIGIN: &str = "https://kb.test";

impl Server {
    /// A browser with an empty cookie jar pointed at this server.
    pub fn browser(&self) -> Browser {
        Browser {
            port: self.port,
            cookies: Vec::new(),
        }
    }
}

/// A minimal HTTP/1.1 browser: one request per connection, keeps cookies.
#[derive(Clone)]
pub struct Browser {
    pub port: u16,
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn post(&mut self, path: &str, body: &[u8]) -> (u16, Value) {
        self.send(path, "application/json", body)
    }

    /// A same-origin HTML form post (`/me` actions); the status (303 on
    /// success) and whatever JSON came back (none).
    pub fn post_form(&mut self, path: &str, form: &str) -> (u16, Value) {
        self.send(path, "application/x-www-form-urlencoded", form.as_bytes())
    }

    /// A JSON post that reports a dead server instead of panicking.
    pub fn try_post_json(&mut self, path: &str, body: &Value) -> std::io::Result<(u16, Value)> {
        self.try_send(path, "application/json", body.to_string().as_bytes())
    }

    fn send(&mut self, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
        self.try_send(path, content_type, body).unwrap()
    }

    fn try_send(
        &mut self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, Value)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: kb.test\r\nContent-Type: {content_type}\r\n\
             Sec-Fetch-Site: same-origin\r\n\
             Content-Length: {}\r\nCookie: {}\r\nConnection: close\r\n\r\n",
            body.len(),
            cookie.join("; ")
        )?;
        // The server may answer (413) before reading a huge body.
        let _ = s.write_all(body);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {head:?}")))?;
        for line in head.lines() {
            if let Some(set) = line.strip_prefix("set-cookie: ") {
                let (pair, _) = set.split_once(';').unwrap();
                let (k, v) = pair.split_once('=').unwrap();
                self.cookies.retain(|(name, _)| name != k);
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
        Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
    }

    /// A GET with this browser's cookies and `headers`: the status and
    /// the response head (lower-case header names, as the server sends).
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: kb.test\r\n{extra}Cookie: {}\r\nConnection: close\r\n\r\n",
            cookie.join("; ")
        )
        .unwrap();
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let head = text
            .split_once("\r\n\r\n")
            .map_or(text.as_str(), |(h, _)| h);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head.to_owned())
    }

    /// A form post with exactly `headers` besides the cookies (no
    /// `Sec-Fetch-Site` unless given: a cross-site post names its site);
    /// the status and the whole response as text.
    pub fn post_form_with(
        &mut self,
        path: &str,
        form: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        self.send_with(path, form.as_bytes(), &all)
    }

    /// A POST of `body` with exactly `headers` (and the cookies).
    fn send_with(&mut self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: kb.test\r\n{extra}\
             Content-Length: {}\r\nCookie: {}\r\nConnection: close\r\n\r\n",
            body.len(),
            cookie.join("; ")
        )
        .unwrap();
        let _ = s.write_all(body);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, text)
    }

    /// A JSON post with exactly `headers` besides the cookies (no
    /// `Sec-Fetch-Site` unless given); the status and the whole response.
    pub fn post_json_with(
        &mut self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        self.send_with(path, body.to_string().as_bytes(), &all)
    }

    /// A GET with this browser's cookies: the status and the whole
    /// response (head and body) as text.
    pub fn get_page(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: kb.test\r\nCookie: {}\r\nConnection: close\r\n\r\n",
            cookie.join("; ")
        )
        .unwrap();
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, text)
    }

    pub fn post_json(&mut self, path: &str, body: &Value) -> (u16, Value) {
        self.post(path, body.to_string().as_bytes())
    }
}

pub fn decode(s: &str) -> Vec<u8> {
    keybound_webauthn::b64::decode(s).unwrap()
}

pub fn challenge(options: &Value) -> Vec<u8> {
    decode(options["challenge"].as_str().unwrap())
}

pub fn ceremony(c: &[u8]) -> Ceremony<'_> {
    Ceremony {
        rp_id: RP_ID,
        origin: ORIGIN,
        challenge: c,
    }
}

/// Enrols `name` from an admin invitation, asking `start` for the options
/// and sending the answer to `finish` (the same server, or another node);
/// the credential and the user handle.
pub fn enrol_across(
    start: &Server,
    finish: &Server,
    browser: &mut Browser,
    auth: &Authenticator,
    name: &str,
) -> (Credential, Vec<u8>) {
    let (ok, url) = start.cli(&["admin", "invite", name]);
    assert!(ok);
    let token = url.trim().split("token=").nth(1).unwrap().to_owned();
    browser.port = start.port;
    let (status, options) = browser.post_json(
        "/attestation/options",
        &json!({"username": name, "token": token}),
    );
    assert_eq!(status, 200, "{options}");
    let user = decode(options["user"]["id"].as_str().unwrap());
    let c = challenge(&options);
    let (cred, answer) = auth.register(Algorithm::Es256, &ceremony(&c), &user);
    browser.port = finish.port;
    let (status, reply) = browser.post_json("/attestation/result", &answer);
    assert_eq!(
        (status, reply["status"].as_str()),
        (200, Some("ok")),
        "{reply}"
    );
    (cred, user)
}
