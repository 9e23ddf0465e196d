//! The log's signed state: a checkpoint in the C2SP `tlog-checkpoint`
//! format, signed as a C2SP `signed-note` with Ed25519.
//!
//! ```text
//! example.com/keybound-audit
//! 1234
//! <base64 root hash>
//!
//! — example.com/keybound-audit <base64(key hash (4 bytes) || signature (64 bytes))>
//! ```
//!
//! The body is the origin (which log), the tree size in decimal and the
//! root hash in standard base64, each on its own line. The signature is
//! over the body's bytes. The key hash is the first four bytes of
//! SHA-256(name || "\n" || 0x01 || public key), and a verifier key is
//! written `name+<key hash, hex>+<base64(0x01 || public key)>`: the form
//! Go's `golang.org/x/mod/sumdb/note` and the transparency-dev tools read,
//! so an external monitor needs nothing of ours to check a checkpoint.
//!
//! Sans-IO: signing takes the key pair; nothing here reads a clock or a
//! file.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::merkle::Hash;

/// The signature algorithm byte of Ed25519 in signed notes.
const ED25519_ALG: u8 = 0x01;

/// The longest note accepted: a checkpoint is a few hundred bytes.
pub const MAX_NOTE: usize = 16 * 1024;

/// The most signature lines read from a note (C2SP asks verifiers to stop
/// at a bound; witnesses cosigning a checkpoint add lines).
pub const MAX_SIGNATURES: usize = 100;

/// The longest origin (and key name) accepted.
pub const MAX_ORIGIN: usize = 256;

/// What a checkpoint says: which log, how many leaves, which root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name: unique, schema-less, e.g. `example.com/keybound-audit`.
    pub origin: String,
    /// Leaves in the tree.
    pub size: u64,
    /// RFC 9162 root of those leaves.
    pub root: Hash,
}

/// Why a checkpoint or a key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    /// Not a signed note: no blank line, no signature, longer than
    /// [`MAX_NOTE`], not UTF-8.
    Malformed(&'static str),
    /// No signature line by the expected key.
    NoSignatureByKey,
    /// The key's signature does not verify: the body was changed, or it
    /// was signed by another key of the same name.
    BadSignature,
    /// The body is not a checkpoint (origin, size, root).
    BadBody(&'static str),
    /// The checkpoint is of another log.
    WrongOrigin,
    /// A verifier key that is not `name+hash+base64`.
    BadKey(&'static str),
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointError::Malformed(why) => write!(f, "not a signed note: {why}"),
            CheckpointError::NoSignatureByKey => {
                write!(f, "the checkpoint carries no signature by the given key")
            }
            CheckpointError::BadSignature => {
                write!(f, "the checkpoint's signature does not verify")
            }
            CheckpointError::BadBody(why) => write!(f, "not a checkpoint: {why}"),
            CheckpointError::WrongOrigin => write!(f, "the checkpoint is of another log"),
            CheckpointError::BadKey(why) => write!(f, "not a verifier key: {why}"),
        }
    }
}

impl std::error::Error for CheckpointError {}

fn key_hash(name: &str, public: &[u8]) -> [u8; 4] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n");
    ctx.update(&[ED25519_ALG]);
    ctx.update(public);
    let d = ctx.finish();
    let mut out = [0u8; 4];
    out.copy_from_slice(d.as_ref().get(..4).unwrap_or(&[0; 4]));
    out
}

/// A key name as signed notes allow it: non-empty, bounded, no spaces,
/// no `+`, no control characters. A log's origin is its key's name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ORIGIN
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

impl Checkpoint {
    /// The note body: origin, size, base64 root, each ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a checkpoint body (extension lines after the root are
    /// allowed and ignored, as C2SP says).
    pub fn parse_body(body: &str) -> Result<Checkpoint, CheckpointError> {
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() || origin.len() > MAX_ORIGIN {
            return Err(CheckpointError::BadBody("no origin"));
        }
        let size_text = lines.next().ok_or(CheckpointError::BadBody("no size"))?;
        if size_text.is_empty()
            || !size_text.bytes().all(|b| b.is_ascii_digit())
            || (size_text.len() > 1 && size_text.starts_with('0'))
        {
            return Err(CheckpointError::BadBody("the size is not a decimal number"));
        }
        let size: u64 = size_text
            .parse()
            .map_err(|_| CheckpointError::BadBody("the size is not a decimal number"))?;
        let root_text = lines.next().ok_or(CheckpointError::BadBody("no root"))?;
        let root = B64
            .decode(root_text)
            .ok()
            .and_then(|r| <[u8; 32]>::try_from(r.as_slice()).ok())
            .ok_or(CheckpointError::BadBody(
                "the root is not 32 bytes of base64",
            ))?;
        if !body.ends_with('\n') {
            return Err(CheckpointError::BadBody("no final newline"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// The signed note: body, blank line, one signature line by `key`
    /// under the name `origin` (the convention: a log's key is named as
    /// the log).
    pub fn sign(&self, key: &Ed25519KeyPair) -> String {
        sign_note(&self.body(), &self.origin, key)
    }

    /// [`Checkpoint::sign`] with extension lines after the root, which
    /// C2SP allows and verifiers that do not know them ignore. A line that
    /// is empty or holds a newline would change the note's shape and is
    /// left out.
    pub fn sign_with_extensions(&self, extensions: &[String], key: &Ed25519KeyPair) -> String {
        let mut body = self.body();
        for line in extensions {
            if !line.is_empty() && !line.contains('\n') {
                body.push_str(line);
                body.push('\n');
            }
        }
        sign_note(&body, &self.origin, key)
    }
}

/// A signed note's text, up to and with the newline before the blank line
/// that starts its signatures; its signatures are not checked.
pub fn note_body(note: &str) -> Result<&str, CheckpointError> {
    note.find("\n\n")
        .and_then(|i| note.get(..=i))
        .ok_or(CheckpointError::Malformed(
            "no blank line before the signatures",
        ))
}

/// A signed note of `text` (which must end in a newline) by `key` under
/// `name`: the text, a blank line, one signature line.
pub fn sign_note(text: &str, name: &str, key: &Ed25519KeyPair) -> String {
    let public = key.public_key().as_ref();
    let signature = key.sign(text.as_bytes());
    let mut blob = key_hash(name, public).to_vec();
    blob.extend_from_slice(signature.as_ref());
    format!("{text}\n\u{2014} {name} {}\n", B64.encode(blob))
}

/// A public key to check checkpoints with, and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    /// The key's name (the log's origin).
    pub name: String,
    /// Ed25519 public key, 32 bytes.
    pub public: [u8; 32],
}

impl VerifierKey {
    /// The verifier key of `public` under `name`.
    pub fn new(name: &str, public: [u8; 32]) -> Result<VerifierKey, CheckpointError> {
        if !valid_name(name) {
            return Err(CheckpointError::BadKey(
                "the name is empty, too long or has spaces or '+'",
            ));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            public,
        })
    }

    /// Reads `name+<hex key hash>+<base64(0x01 || key)>`; the key hash
    /// must match the name and key.
    pub fn parse(text: &str) -> Result<VerifierKey, CheckpointError> {
        let text = text.trim();
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CheckpointError::BadKey("expected name+hash+key"));
        };
        if !valid_name(name) {
            return Err(CheckpointError::BadKey(
                "the name is empty, too long or has spaces",
            ));
        }
        let raw = B64
            .decode(key)
            .map_err(|_| CheckpointError::BadKey("the key is not base64"))?;
        let Some((&ED25519_ALG, public)) = raw.split_first() else {
            return Err(CheckpointError::BadKey("not an Ed25519 key"));
        };
        let public = <[u8; 32]>::try_from(public)
            .map_err(|_| CheckpointError::BadKey("an Ed25519 key is 32 bytes"))?;
        if hash != hex::encode(key_hash(name, &public)) {
            return Err(CheckpointError::BadKey(
                "the key hash does not match the key",
            ));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            public,
        })
    }

    /// The signed note's key hash of this key, hex: its id in a
    /// signature line, and the middle of its encoding.
    pub fn key_id(&self) -> String {
        hex::encode(key_hash(&self.name, &self.public))
    }

    /// The key in `name+hash+base64` form.
    pub fn encode(&self) -> String {
        let mut raw = vec![ED25519_ALG];
        raw.extend_from_slice(&self.public);
        format!("{}+{}+{}", self.name, self.key_id(), B64.encode(raw))
    }

    /// Checks a signed checkpoint: a signature line by this key that
    /// verifies over the body, and a body that is a checkpoint of the log
    /// this key is named for. Signatures by other keys (witness
    /// cosignatures) are allowed and not checked.
    pub fn verify(&self, note: &str) -> Result<Checkpoint, CheckpointError> {
        let checkpoint = Checkpoint::parse_body(self.open(note)?)?;
        if checkpoint.origin != self.name {
            return Err(CheckpointError::WrongOrigin);
        }
        Ok(checkpoint)
    }

    /// Checks that `note` carries a verifying signature by this key;
    /// returns its text (the signed body).
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, CheckpointError> {
        if note.len() > MAX_NOTE {
            return Err(CheckpointError::Malformed(
                "longer than a checkpoint can be",
            ));
        }
        let body = note_body(note)?;
        let rest = note.get(body.len()..).unwrap_or_default();
        let signatures = rest.get(1..).unwrap_or_default();
        if signatures.is_empty() || !signatures.ends_with('\n') {
            return Err(CheckpointError::Malformed("no signature lines"));
        }
        let wanted = key_hash(&self.name, &self.public);
        let mut found = false;
        for line in signatures.lines().take(MAX_SIGNATURES) {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return Err(CheckpointError::Malformed(
                    "a signature line without its dash",
                ));
            };
            let Some((name, blob)) = rest.split_once(' ') else {
                return Err(CheckpointError::Malformed(
                    "a signature line without a signature",
                ));
            };
            let blob = B64
                .decode(blob)
                .map_err(|_| CheckpointError::Malformed("a signature that is not base64"))?;
            let Some((hash, signature)) = blob.split_at_checked(4) else {
                return Err(CheckpointError::Malformed(
                    "a signature shorter than its key hash",
                ));
            };
            if name != self.name || hash != wanted {
                continue;
            }
            found = true;
            UnparsedPublicKey::new(&ED25519, self.public)
                .verify(body.as_bytes(), signature)
                .map_err(|_| CheckpointError::BadSignature)?;
        }
        if !found {
            return Err(CheckpointError::NoSignatureByKey);
        }
        Ok(body)
    }
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
