//! gRPC C-core (grpcio >= 1.57: py-spiffe, the C++, Ruby and PHP clients)
//! sends a Unix socket's path, percent-encoded, as the HTTP/2 `:authority`
//! (`run%2Fkeybound%2Fapi.sock`). The `h2` crate under tonic refuses that
//! as malformed and resets the stream, so those clients could not use the
//! Workload API. SPIRE's agent (Go) takes any authority.
//!
//! [`AuthorityFix`] sits between the socket and tonic and rewrites the
//! request header blocks the client sends: an `:authority` that is not a
//! valid URI authority becomes `localhost` (what Go and Rust clients
//! send on Unix sockets; the Workload API never looks at it). Every other
//! byte passes unchanged, and header blocks are re-encoded without the
//! dynamic table ([`hpack`]). A block that does not decode, or that is
//! larger than [`MAX_BLOCK`], closes the connection.

mod hpack;
mod tables;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tonic::codegen::http::uri::Authority;
use tonic::transport::server::{Connected, UdsConnectInfo};

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
const PREFACE_LEN: usize = 24;
/// The largest frame the server accepts (SETTINGS_MAX_FRAME_SIZE default).
const MAX_FRAME: usize = 16 * 1024;
/// The largest header block (HEADERS + CONTINUATIONs) accepted.
pub(crate) const MAX_BLOCK: usize = 64 * 1024;

const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// A header block being collected across CONTINUATION frames.
struct Pending {
    stream: [u8; 4],
    flags: u8,
    priority: Option<[u8; 5]>,
    block: Vec<u8>,
}

/// The client→server byte stream's rewriter, without IO.
#[derive(Default)]
pub(crate) struct Rewriter {
    preface_left: Option<usize>,
    raw: Vec<u8>,
    pending: Option<Pending>,
    decoder: hpack::Decoder,
}

fn malformed(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("workload api: {why}"))
}

fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: [u8; 4], payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap_or(0).to_be_bytes();
    out.extend_from_slice(len.get(1..).unwrap_or_default());
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream);
    out.extend_from_slice(payload);
}

impl Rewriter {
    /// Feeds bytes read from the client; appends what tonic should read.
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        self.raw.extend_from_slice(input);
        let left = self.preface_left.get_or_insert(PREFACE_LEN);
        if *left > 0 {
            let n = (*left).min(self.raw.len());
            out.extend(self.raw.drain(..n));
            *left -= n;
            if *left > 0 {
                return Ok(());
            }
        }
        loop {
            let Some(&[l0, l1, l2, kind, flags, s0, s1, s2, s3]) = self.raw.get(..9) else {
                return Ok(());
            };
            let len = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
            let stream = [s0, s1, s2, s3];
            if len > MAX_FRAME {
                return Err(malformed("frame too large"));
            }
            if self.raw.len() < 9 + len {
                return Ok(());
            }
            let frame_bytes: Vec<u8> = self.raw.drain(..9 + len).collect();
            let payload = frame_bytes.get(9..).unwrap_or_default();
            match kind {
                HEADERS => self.headers(flags, stream, payload, out)?,
                CONTINUATION if self.pending.is_some() => self.continuation(flags, payload, out)?,
                _ if self.pending.is_some() => {
                    return Err(malformed("frame inside a header block"))
                }
                _ => out.extend_from_slice(&frame_bytes),
            }
        }
    }

    fn headers(
        &mut self,
        flags: u8,
        stream: [u8; 4],
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        if self.pending.is_some() {
            return Err(malformed("HEADERS inside a header block"));
        }
        let mut body = payload;
        if flags & PADDED != 0 {
            let (&pad, rest) = body.split_first().ok_or_else(|| malformed("padding"))?;
            let keep = rest
                .len()
                .checked_sub(usize::from(pad))
                .ok_or_else(|| malformed("padding"))?;
            body = rest.get(..keep).unwrap_or_default();
        }
        let priority = if flags & PRIORITY != 0 {
            let p: [u8; 5] = body
                .get(..5)
                .and_then(|p| p.try_into().ok())
                .ok_or_else(|| malformed("priority"))?;
            body = body.get(5..).unwrap_or_default();
            Some(p)
        } else {
            None
        };
        self.pending = Some(Pending {
            stream,
            flags,
            priority,
            block: body.to_vec(),
        });
        if flags & END_HEADERS != 0 {
            self.finish(out)?;
        }
        Ok(())
    }

    fn continuation(&mut self, flags: u8, payload: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        if let Some(p) = self.pending.as_mut() {
            if p.block.len() + payload.len() > MAX_BLOCK {
                return Err(malformed("header block too large"));
            }
            p.block.extend_from_slice(payload);
        }
        if flags & END_HEADERS != 0 {
            self.finish(out)?;
        }
        Ok(())
    }

    /// Decodes the block, fixes `:authority`, writes HEADERS (and
    /// CONTINUATIONs when it outgrows a frame).
    fn finish(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let mut fields = self
            .decoder
            .decode(&p.block)
            .map_err(|_| malformed("header block"))?;
        for (name, value) in &mut fields {
            if name.as_slice() == b":authority" && Authority::try_from(value.as_slice()).is_err() {
                *value = b"localhost".to_vec();
            }
        }
        let mut block = Vec::new();
        if let Some(prio) = p.priority {
            block.extend_from_slice(&prio);
        }
        block.extend_from_slice(&hpack::encode(&fields));
        let base = p.flags & (END_STREAM | PRIORITY);
        let mut chunks = block.chunks(MAX_FRAME).peekable();
        let mut first = true;
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            let end = if last { END_HEADERS } else { 0 };
            if first {
                frame(out, HEADERS, base | end, p.stream, chunk);
                first = false;
            } else {
                frame(out, CONTINUATION, end, p.stream, chunk);
            }
        }
        if first {
            frame(out, HEADERS, base | END_HEADERS, p.stream, &[]);
        }
        Ok(())
    }
}

/// A Unix socket connection whose request headers pass through a
/// [`Rewriter`]; writes (the server's answers) are untouched.
pub(crate) struct AuthorityFix {
    inner: UnixStream,
    rewriter: Rewriter,
    out: Vec<u8>,
    out_pos: usize,
}

impl AuthorityFix {
    pub(crate) fn new(inner: UnixStream) -> Self {
        AuthorityFix {
            inner,
            rewriter: Rewriter::default(),
            out: Vec::new(),
            out_pos: 0,
        }
    }
}

impl Connected for AuthorityFix {
    type ConnectInfo = UdsConnectInfo;
    fn connect_info(&self) -> UdsConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for AuthorityFix {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if let Some(ready) = this.out.get(this.out_pos..).filter(|r| !r.is_empty()) {
                let n = ready.len().min(buf.remaining());
                buf.put_slice(ready.get(..n).unwrap_or_default());
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            let mut tmp = [0u8; 8192];
            let mut rb = ReadBuf::new(&mut tmp);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    if rb.filled().is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                    this.rewriter.feed(rb.filled(), &mut this.out)?;
                }
            }
        }
    }
}

impl AsyncWrite for AuthorityFix {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
