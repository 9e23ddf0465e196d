//! Reading an inventory export (`keybound device import FILE`): CSV with a
//! header row, or a JSON array of objects, with the same fields:
//! `identifier` (or `serial`, or `device`: a device name or an
//! authenticator serial), `managed`, `owner`, `compliant`,
//! `disk_encrypted`, `os_version`. A UTF-8 BOM is accepted.
//!
//! Strict and all-or-nothing: any malformed row refuses the whole file,
//! naming its line (1-based, as in the file) and the field. Sans-IO: the
//! file's bytes come in, records or the first error go out.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;

/// The largest file read, bytes.
pub const MAX_IMPORT_BYTES: usize = 4 * 1024 * 1024;
/// The most records one file may hold.
pub const MAX_IMPORT_ROWS: usize = 20_000;
/// The longest identifier (serial or device name).
pub const MAX_IDENTIFIER: usize = 128;
/// The longest owner.
pub const MAX_OWNER: usize = 128;
/// The longest OS version.
pub const MAX_OS_VERSION: usize = 32;

/// One inventory record, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryRecord {
    /// A device name (`dev-…`) or an authenticator serial.
    pub identifier: String,
    /// Managed by the organisation; `None`: the file does not say.
    pub managed: Option<bool>,
    /// Who the inventory says owns it.
    pub owner: Option<String>,
    /// Compliant with the organisation's rules.
    pub compliant: Option<bool>,
    /// Disk encrypted.
    pub disk_encrypted: Option<bool>,
    /// The OS version (`14.4.1`).
    pub os_version: Option<String>,
    /// Its line in the file (1-based).
    pub line: u64,
}

impl InventoryRecord {
    /// The facts it states, as stored (`true`/`false` for yes-no facts).
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let mut facts = Vec::new();
        let mut yes_no = |name, v: Option<bool>| {
            if let Some(v) = v {
                facts.push((name, v.to_string()));
            }
        };
        yes_no("managed", self.managed);
        yes_no("compliant", self.compliant);
        yes_no("disk_encrypted", self.disk_encrypted);
        if let Some(owner) = &self.owner {
            facts.push(("owner", owner.clone()));
        }
        if let Some(os) = &self.os_version {
            facts.push(("os_version", os.clone()));
        }
        facts
    }
}

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// The line (1-based) at fault; 0 for the file as a whole.
    pub line: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, &self.field) {
            (0, _) => write!(f, "{}", self.reason),
            (line, Some(field)) => write!(f, "line {line}, field {field}: {}", self.reason),
            (line, None) => write!(f, "line {line}: {}", self.reason),
        }
    }
}

impl std::error::Error for ImportError {}

fn refuse(line: u64, field: Option<&str>, reason: impl Into<String>) -> ImportError {
    ImportError {
        line,
        field: field.map(str::to_owned),
        reason: reason.into(),
    }
}

const FIELDS: [&str; 8] = [
    "identifier",
    "serial",
    "device",
    "managed",
    "owner",
    "compliant",
    "disk_encrypted",
    "os_version",
];

/// The records of `bytes`: JSON when its first character (after a BOM and
/// white space) is `[`, else CSV.
pub fn parse_inventory(bytes: &[u8]) -> Result<Vec<InventoryRecord>, ImportError> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(refuse(
            0,
            None,
            format!("the file is larger than {MAX_IMPORT_BYTES} bytes"),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = line_of(bytes, e.valid_up_to());
        refuse(line, None, "not UTF-8")
    })?;
    let records = if text.trim_start().starts_with('[') {
        json(text)?
    } else {
        csv_records(text)?
    };
    if records.is_empty() {
        return Err(refuse(0, None, "the file holds no records"));
    }
    let mut seen = HashSet::new();
    for r in &records {
        if !seen.insert(r.identifier.as_str()) {
            return Err(refuse(
                r.line,
                Some("identifier"),
                "named twice in the file",
            ));
        }
    }
    Ok(records)
}

/// The 1-based line of byte `offset`.
fn line_of(bytes: &[u8], offset: usize) -> u64 {
    let before = bytes.get(..offset).unwrap_or(bytes);
    1 + before.iter().filter(|b| **b == b'\n').count() as u64
}

/// A record's fields as text, before checking.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    identifier: Option<String>,
    serial: Option<String>,
    device: Option<String>,
    managed: Option<Flag>,
    owner: Option<String>,
    compliant: Option<Flag>,
    disk_encrypted: Option<Flag>,
    os_version: Option<String>,
}

/// A yes-no field: JSON `true`/`false`, or in CSV the text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

fn check(raw: Raw, line: u64) -> Result<InventoryRecord, ImportError> {
    let ids: Vec<(&str, String)> = [
        ("identifier", raw.identifier),
        ("serial", raw.serial),
        ("device", raw.device),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
    .collect();
    let (field, identifier) = match ids.as_slice() {
        [(field, id)] => (*field, id.clone()),
        [] => return Err(refuse(line, Some("identifier"), "missing")),
        _ => {
            return Err(refuse(
                line,
                Some("identifier"),
                "give one of identifier, serial, device",
            ))
        }
    };
    text_field(&identifier, field, MAX_IDENTIFIER, line, |c| {
        c.is_ascii_graphic()
    })?;
    let flag = |v: Option<Flag>, name: &str| -> Result<Option<bool>, ImportError> {
        match v {
            None => Ok(None),
            Some(Flag::Bool(b)) => Ok(Some(b)),
            Some(Flag::Text(t)) => match t.trim().to_ascii_lowercase().as_str() {
                "" => Ok(None),
                "true" | "yes" | "1" => Ok(Some(true)),
                "false" | "no" | "0" => Ok(Some(false)),
                _ => Err(refuse(line, Some(name), "expected true or false")),
            },
        }
    };
    let owner = raw.owner.filter(|o| !o.is_empty());
    if let Some(owner) = &owner {
        text_field(owner, "owner", MAX_OWNER, line, |c| !c.is_control())?;
    }
    let os_version = raw.os_version.filter(|o| !o.is_empty());
    if let Some(os) = &os_version {
        text_field(os, "os_version", MAX_OS_VERSION, line, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ' | '(' | ')')
        })?;
        if !os.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(refuse(line, Some("os_version"), "must start with a number"));
        }
    }
    Ok(InventoryRecord {
        identifier,
        managed: flag(raw.managed, "managed")?,
        owner,
        compliant: flag(raw.compliant, "compliant")?,
        disk_encrypted: flag(raw.disk_encrypted, "disk_encrypted")?,
        os_version,
        line,
    })
}

fn text_field(
    value: &str,
    field: &str,
    max: usize,
    line: u64,
    allowed: impl Fn(char) -> bool,
) -> Result<(), ImportError> {
    if value.len() > max {
        return Err(refuse(
            line,
            Some(field),
            format!("longer than {max} bytes"),
        ));
    }
    if !value.chars().all(allowed) {
        return Err(refuse(line, Some(field), "has characters it may not have"));
    }
    Ok(())
}

fn csv_records(text: &str) -> Result<Vec<InventoryRecord>, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| csv_error(&e, 1))?.clone();
    let mut seen = HashSet::new();
    for h in &headers {
        if !FIELDS.contains(&h) {
            return Err(refuse(1, Some(h), "not a field of an inventory record"));
        }
        if !seen.insert(h) {
            return Err(refuse(1, Some(h), "named twice in the header"));
        }
    }
    let mut records = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| csv_error(&e, 0))?;
        let line = row.position().map_or(0, |p| p.line());
        if records.len() >= MAX_IMPORT_ROWS {
            return Err(refuse(
                line,
                None,
                format!("more than {MAX_IMPORT_ROWS} records"),
            ));
        }
        let mut raw = Raw::default();
        for (name, value) in headers.iter().zip(row.iter()) {
            let value = value.to_owned();
            match name {
                "identifier" => raw.identifier = Some(value),
                "serial" => raw.serial = Some(value),
                "device" => raw.device = Some(value),
                "managed" => raw.managed = Some(Flag::Text(value)),
                "owner" => raw.owner = Some(value),
                "compliant" => raw.compliant = Some(Flag::Text(value)),
                "disk_encrypted" => raw.disk_encrypted = Some(Flag::Text(value)),
                _ => raw.os_version = Some(value),
            }
        }
        records.push(check(raw, line)?);
    }
    Ok(records)
}

fn csv_error(e: &csv::Error, fallback: u64) -> ImportError {
    let line = e.position().map_or(fallback, |p| p.line());
    let reason = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_owned(),
        _ => "not CSV".to_owned(),
    };
    refuse(line, None, reason)
}

fn json(text: &str) -> Result<Vec<InventoryRecord>, ImportError> {
    let starts = element_lines(text);
    if starts.len() > MAX_IMPORT_ROWS {
        return Err(refuse(
            0,
            None,
            format!("more than {MAX_IMPORT_ROWS} records"),
        ));
    }
    let raws: Vec<Raw> = serde_json::from_str(text).map_err(|e| {
        let field = e
            .to_string()
            .split('`')
            .nth(1)
            .filter(|f| !f.is_empty())
            .map(str::to_owned);
        ImportError {
            line: e.line() as u64,
            field,
            reason: match e.classify() {
                serde_json::error::Category::Data => "not a field, or not of its type".to_owned(),
                _ => "not JSON".to_owned(),
            },
        }
    })?;
    raws.into_iter()
        .enumerate()
        .map(|(i, raw)| check(raw, starts.get(i).copied().unwrap_or(0)))
        .collect()
}

/// The line each element of the top-level array starts on: a scan that
/// tracks strings and nesting only (the parse proper is serde_json's).
fn element_lines(text: &str) -> Vec<u64> {
    let mut lines = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut line) = (0u32, false, false, 1u64);
    let mut expecting = false;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if depth == 1 && expecting && !c.is_whitespace() && c != ']' {
            lines.push(line);
            expecting = false;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests;
