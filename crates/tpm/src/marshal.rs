//! A bounded big-endian reader over TPM structures (TPM 2.0 Part 1 §18,
//! "Marshalling"). Every read checks the remaining length, so a hostile
//! structure ends in [`None`], never in a panic or an over-read.

/// A cursor over a marshalled TPM structure.
pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader(bytes)
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1).and_then(|b| b.first().copied())
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.take(2)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
    }

    /// A TPM2B: a u16 size, then that many bytes, at most `max`.
    pub(crate) fn sized(&mut self, max: usize) -> Option<&'a [u8]> {
        let n = usize::from(self.u16()?);
        if n > max {
            return None;
        }
        self.take(n)
    }

    /// The whole input was consumed: trailing bytes are refused, so one
    /// structure has one encoding.
    pub(crate) fn finish(self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

/// Appends a TPM2B (u16 size, bytes). `None` if `bytes` is over 65,535.
pub(crate) fn put_sized(out: &mut Vec<u8>, bytes: &[u8]) -> Option<()> {
    let n = u16::try_from(bytes.len()).ok()?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(bytes);
    Some(())
}
