//! The server under construction: a config and its routes in, a running server out.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread;

use super::answer::Refuser;
use super::config::Config;
use super::handle::ServerHandle;
use super::listener::accept_loop;
use super::route::{Route, Router};
use super::state::ServerState;
use crate::connection::timer::Timer;
use crate::connection::{Handler, Session};
use crate::error::{Error, Result};
use crate::extensions::Extension;
use crate::handshake::{HttpResponse, Request};

/// A WebSocket server under construction: a config and its routes.
///
/// ```no_run
/// use syncws::{Config, Handler, Message, Server, Session};
///
/// struct Echo;
/// impl Handler for Echo {
///     fn on_message(&mut self, session: &Session, message: Message) {
///         let _ = session.send(message);
///     }
/// }
///
/// let server = Server::new(Config::default()).route("/echo", || Echo).bind("127.0.0.1:0")?;
/// println!("listening on {}", server.local_addr());
/// server.shutdown();
/// # Ok::<(), syncws::Error>(())
/// ```
#[derive(Debug)]
pub struct Server {
    config: Config,
    router: Router,
    #[cfg(feature = "tls")]
    tls: Option<crate::transport::tls::ServerTls>,
}

impl Server {
    /// A server with `config` and no routes yet.
    pub fn new(config: Config) -> Self {
        Server {
            config,
            router: Router::default(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Serves `path` with a handler per connection, made by `factory` (Ktor's
    /// `webSocket("/path") { ... }`).
    pub fn route<H, F>(self, path: &str, factory: F) -> Self
    where
        H: Handler + 'static,
        F: Fn() -> H + Send + Sync + 'static,
    {
        self.route_with(path, Route::handler(factory))
    }

    /// Serves `path` in Ktor's channel style; see [`Route::channel`].
    pub fn channel_route<F>(self, path: &str, f: F) -> Self
    where
        F: Fn(Session) + Send + Sync + 'static,
    {
        self.route_with(path, Route::channel(f))
    }

    /// Serves `path` with a fully configured [`Route`] (subprotocols, channel style).
    pub fn route_with(mut self, path: &str, route: Route) -> Self {
        self.router.add(path, route);
        self
    }

    /// Offers `extension` (such as `Deflate`, feature `deflate`) on every route that has no
    /// extensions of its own. Call it several times to offer several; a connection uses those
    /// the client also offers, in the client's order.
    pub fn extension(mut self, extension: impl Extension + 'static) -> Self {
        self.router.add_extension(Arc::new(extension));
        self
    }

    /// Answers plain (non-upgrade) GET requests for `path` with `handler`'s response, so one
    /// port can serve a page and its WebSocket endpoints. A WebSocket upgrade for the same path
    /// still goes to the WebSocket route, if any; unknown paths stay 404. The connection closes
    /// after the response. A panicking handler answers 500.
    pub fn http_route<F>(mut self, path: &str, handler: F) -> Self
    where
        F: Fn(&Request) -> HttpResponse + Send + Sync + 'static,
    {
        self.router.add_http(path, Box::new(handler));
        self
    }

    /// Serves fixed bytes at `path` for plain GETs (a page compiled into the binary, say).
    ///
    /// ```no_run
    /// use syncws::{Config, Server};
    /// let server = Server::new(Config::default())
    ///     .page("/", "text/html; charset=utf-8", "<h1>board</h1>")
    ///     .bind("0.0.0.0:8080")?;
    /// # Ok::<(), syncws::Error>(())
    /// ```
    pub fn page(self, path: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        let response = HttpResponse::ok(content_type, body);
        self.http_route(path, move |_| response.clone())
    }

    /// Serves every connection over TLS (`https://` and `wss://`; feature `tls`). The TLS
    /// handshake runs on the connection's thread, under the handshake timeout, and counts
    /// against `max_connections` like a WebSocket handshake. A client that speaks plain HTTP
    /// gets a plain `400`; over `max_connections`, connections are closed without an answer
    /// (a `503` would need a TLS handshake on the listener's thread).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::transport::tls::ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Serves every path that has no route of its own with `route`, instead of answering 404.
    pub fn fallback(mut self, route: Route) -> Self {
        self.router.set_fallback(route);
        self
    }

    /// Binds `addr` and starts serving in background threads. Keep the returned handle: the
    /// server runs until it is dropped or [`shutdown`](ServerHandle::shutdown) is called.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an option that cannot work ([`Config::check`]),
    /// [`Error::Io`] if the address does not resolve, [`Error::Bind`] if it cannot be bound,
    /// [`Error::Spawn`] if a thread cannot start.
    pub fn bind(self, addr: impl ToSocketAddrs) -> Result<ServerHandle> {
        self.config.check()?;
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        let listener = TcpListener::bind(&addrs[..]).map_err(|source| Error::Bind { addrs, source })?;
        let local_addr = listener.local_addr()?;
        let (wake_tx, wake_rx) = UnixStream::pair()?;
        let timer = Timer::start("syncws-timer").map_err(Error::Spawn)?;
        let refuser = Refuser::start()?;
        #[allow(unused_mut)]
        let mut state = ServerState::new(self.config, self.router, timer.queue().clone());
        #[cfg(feature = "tls")]
        {
            state.tls = self.tls;
        }
        let state = Arc::new(state);
        let s = state.clone();
        let listener = thread::Builder::new()
            .name("syncws-listen".to_owned())
            .stack_size(64 * 1024)
            .spawn(move || accept_loop(&s, &listener, &wake_rx, &refuser))
            .map_err(Error::Spawn)?;
        log::info!("syncws listening on {local_addr}");
        Ok(ServerHandle::new(state, local_addr, listener, wake_tx, timer))
    }
}
