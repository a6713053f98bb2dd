//! The fake's front door: a TCP listener that can be shut (connection
//! attempts are refused by the kernel) and reopened on the same port, and
//! that cuts every connection it let in when it shuts.
//!
//! Policy: shutting is synchronous. When `close` returns, the port refuses
//! connections and every accepted connection is being torn down, so a test
//! can act on "offline" at once without sleeping.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

use super::lock;

#[derive(Debug)]
struct Door {
    listener: Option<TcpListener>,
    /// The accept loop's waker, so closing and reopening wake it to re-poll.
    acceptor: Option<Waker>,
}

/// A listener slot shared by the accept loop and the fake's controls.
#[derive(Debug)]
pub(crate) struct Gate {
    door: Mutex<Door>,
    /// Bumped on every close; a connection dies when it differs from the
    /// value it was accepted under.
    generation: watch::Sender<u64>,
}

/// Binds `addr` with `SO_REUSEADDR`, so a reopen is not refused while the
/// connections cut by a close linger in `TIME_WAIT`.
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

impl Gate {
    /// Binds `addr` and returns the gate with the address actually bound.
    pub(crate) fn open(addr: SocketAddr) -> io::Result<(Arc<Self>, SocketAddr)> {
        let listener = bind(addr)?;
        let bound = listener.local_addr()?;
        let gate = Self {
            door: Mutex::new(Door {
                listener: Some(listener),
                acceptor: None,
            }),
            generation: watch::Sender::new(0),
        };
        Ok((Arc::new(gate), bound))
    }

    pub(crate) fn is_open(&self) -> bool {
        lock(&self.door).listener.is_some()
    }

    /// Closes the listening socket and cuts every connection accepted so far.
    pub(crate) fn close(&self) {
        let mut door = lock(&self.door);
        door.listener = None;
        // Under the door's lock, so no connection is accepted between the
        // listener closing and the generation moving on.
        self.generation.send_modify(|generation| *generation += 1);
        if let Some(waker) = door.acceptor.take() {
            waker.wake();
        }
    }

    /// Binds `addr` again (the same port) if the gate is closed.
    pub(crate) fn reopen(&self, addr: SocketAddr) -> io::Result<()> {
        let mut door = lock(&self.door);
        if door.listener.is_none() {
            door.listener = Some(bind(addr)?);
            if let Some(waker) = door.acceptor.take() {
                waker.wake();
            }
        }
        Ok(())
    }

    /// Accepts a connection, with the generation it was accepted under.
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr, u64)>> {
        let mut door = lock(&self.door);
        door.acceptor = Some(cx.waker().clone());
        match &door.listener {
            Some(listener) => listener
                .poll_accept(cx)
                .map_ok(|(stream, peer)| (stream, peer, *self.generation.borrow())),
            None => Poll::Pending,
        }
    }
}

/// The accept side of a [`Gate`], served by `axum::serve`.
pub(crate) struct GateListener {
    pub(crate) gate: Arc<Gate>,
    pub(crate) addr: SocketAddr,
}

impl axum::serve::Listener for GateListener {
    type Io = GatedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match poll_fn(|cx| self.gate.poll_accept(cx)).await {
                Ok((stream, peer, generation)) => {
                    let mut watcher = self.gate.generation.subscribe();
                    let cut = Box::pin(async move {
                        // An error means the gate is gone: cut as well.
                        let _ = watcher.wait_for(|now| *now != generation).await;
                    });
                    return (
                        GatedStream {
                            stream,
                            cut,
                            is_cut: false,
                        },
                        peer,
                    );
                }
                Err(error) => {
                    tracing::warn!(%error, "fake binance: accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

/// An accepted connection that fails every read and write once its gate
/// closes, so the server drops it and the peer sees the TCP connection end.
pub(crate) struct GatedStream {
    stream: TcpStream,
    cut: Pin<Box<dyn Future<Output = ()> + Send>>,
    is_cut: bool,
}

impl GatedStream {
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if !self.is_cut && self.cut.as_mut().poll(cx).is_ready() {
            self.is_cut = true;
        }
        if self.is_cut {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the fake went offline",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for GatedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Err(error) = self.check(cx) {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for GatedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Err(error) = self.check(cx) {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(error) = self.check(cx) {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
