//! A TCP stream that acknowledges what it reads at once (`TCP_QUICKACK`, set again after each
//! read: Linux clears it by itself). Why: until the first command starts, sshd writes without
//! `TCP_NODELAY`, so after authentication its channel confirmation waits (Nagle) for the
//! acknowledgement of its previous small packets, which the client's delayed ACK holds back
//! for 40 ms. Acknowledging at once takes those 40 ms off every session's first command.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub(crate) struct QuickAck {
    stream: TcpStream,
    /// The same socket (a duplicate descriptor), for the option: tokio's stream has no
    /// setter for it.
    twin: std::net::TcpStream,
}

impl QuickAck {
    pub(crate) fn new(stream: TcpStream) -> io::Result<QuickAck> {
        let std = stream.into_std()?;
        let twin = std.try_clone()?;
        let stream = TcpStream::from_std(std)?;
        let this = QuickAck { stream, twin };
        this.arm();
        Ok(this)
    }

    fn arm(&self) {
        use std::os::linux::net::TcpStreamExt;
        // Only a latency hint: a socket that refuses it still works.
        let _ = self.twin.set_quickack(true);
    }
}

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.arm();
        }
        polled
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Bytes go both ways unchanged (the 40 ms it saves is measured by the benchmark; see
    /// BENCHMARKS.md).
    #[tokio::test]
    async fn passes_bytes_both_ways() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = [0u8; 4];
            s.read_exact(&mut got).await.unwrap();
            s.write_all(b"pong").await.unwrap();
            got
        });
        let mut quick = QuickAck::new(TcpStream::connect(addr).await.unwrap()).unwrap();
        quick.write_all(b"ping").await.unwrap();
        let mut back = [0u8; 4];
        quick.read_exact(&mut back).await.unwrap();
        assert_eq!((&back, &server.await.unwrap()), (b"pong", b"ping"));
    }
}
