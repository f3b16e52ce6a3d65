//! The server: routes and config in, a listener thread, a timer thread and a thread per
//! connection out; a handle to stop it all.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::close::CloseCode;
use crate::config::Config;
use crate::conn::{Conn, Cut, HANDSHAKE};
use crate::connection::{self, refuse};
use crate::error::{Error, Result};
use crate::extension::Extension;
use crate::handler::Handler;
use crate::handshake::Rejection;
use crate::http::HttpResponse;
use crate::request::Request;
use crate::route::{Route, Router};
use crate::session::Session;
use crate::timer::{self, Clock, Registry};

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
}

impl Server {
    /// A server with `config` and no routes yet.
    pub fn new(config: Config) -> Self {
        Server { config, router: Router::default() }
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

    /// Serves every path that has no route of its own with `route`, instead of answering 404.
    pub fn fallback(mut self, route: Route) -> Self {
        self.router.set_fallback(route);
        self
    }

    /// Binds `addr` and starts serving in background threads.
    ///
    /// # Errors
    /// [`Error::Io`] if the address cannot be bound, [`Error::Spawn`] if a thread cannot start.
    pub fn bind(self, addr: impl ToSocketAddrs) -> Result<ServerHandle> {
        let listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        let (timer_wake, wake_rx) = crossbeam_channel::unbounded();
        let (timer_stop, stop_rx) = crossbeam_channel::bounded(1);
        let (reject_tx, reject_rx) = crossbeam_channel::bounded::<TcpStream>(REJECT_QUEUE);
        let state = Arc::new(ServerState {
            config: self.config,
            router: self.router,
            clock: Clock::new(),
            registry: Mutex::new(HashMap::new()),
            timer_wake,
            next_id: AtomicU64::new(1),
            live: Mutex::new(0),
            live_changed: Condvar::new(),
            shutting_down: AtomicBool::new(false),
        });

        let s = state.clone();
        let timer =
            spawn("syncws-timer", move || timer::run(&s.registry, &s.config, s.clock, wake_rx, &stop_rx))?;
        let rejecter = spawn("syncws-reject", move || {
            for stream in reject_rx {
                let peer = stream.peer_addr().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
                refuse(&stream, &Rejection::new(503, "too many connections"), peer);
            }
        })?;
        let s = state.clone();
        let listener = spawn("syncws-listen", move || accept_loop(&s, &listener, &reject_tx))?;
        log::info!("syncws listening on {local_addr}");
        Ok(ServerHandle {
            state,
            local_addr,
            threads: vec![listener, timer, rejecter],
            timer_stop,
            stopped: false,
        })
    }
}

/// Connections waiting for their 503 answer; more are dropped unanswered.
const REJECT_QUEUE: usize = 64;

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    thread::Builder::new().name(name.to_owned()).stack_size(64 * 1024).spawn(f).map_err(Error::Spawn)
}

/// What every thread of a server shares.
#[derive(Debug)]
pub(crate) struct ServerState {
    pub(crate) config: Config,
    pub(crate) router: Router,
    pub(crate) clock: Clock,
    pub(crate) registry: Registry,
    pub(crate) timer_wake: Sender<()>,
    next_id: AtomicU64,
    live: Mutex<usize>,
    live_changed: Condvar,
    shutting_down: AtomicBool,
}

impl ServerState {
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Puts `conn` under the timer's watch until the guard drops.
    pub(crate) fn register<'a>(&'a self, conn: &Arc<Conn>) -> Registered<'a> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner()).insert(conn.id, conn.clone());
        let _ = self.timer_wake.send(());
        Registered { state: self, id: conn.id }
    }

    fn live(&self) -> usize {
        *self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until no connection thread is left or `deadline` passes; returns how many are left.
    fn wait_idle(&self, deadline: Instant) -> usize {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        while *live > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            live = self.live_changed.wait_timeout(live, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        *live
    }

    fn each_conn(&self, f: impl Fn(&Conn)) {
        for conn in self.registry.lock().unwrap_or_else(|e| e.into_inner()).values() {
            f(conn);
        }
    }
}

/// Removes a connection from the registry when its thread ends.
pub(crate) struct Registered<'a> {
    state: &'a ServerState,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.state.registry.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

/// Counts a connection thread from before it starts until it has finished.
struct Live(Arc<ServerState>);

impl Live {
    fn new(state: &Arc<ServerState>) -> Live {
        *state.live.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Live(state.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        *self.0.live.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0.live_changed.notify_all();
    }
}

fn accept_loop(state: &Arc<ServerState>, listener: &TcpListener, reject: &Sender<TcpStream>) {
    for incoming in listener.incoming() {
        if state.is_shutting_down() {
            break;
        }
        let stream = match incoming {
            Ok(s) => s,
            Err(e) => {
                log::warn!("accept failed: {e}");
                // Out of file descriptors and the like: give connections time to end.
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let peer = match stream.peer_addr() {
            Ok(p) => p,
            Err(_) => continue,
        };
        if state.live() >= state.config.max_connections {
            log::warn!("{peer}: refused, {} connections already", state.config.max_connections);
            let _ = reject.try_send(stream);
            continue;
        }
        let live = Live::new(state);
        let s = state.clone();
        let started = thread::Builder::new()
            .name("syncws-conn".to_owned())
            .stack_size(state.config.stack_size)
            .spawn(move || {
                let _live = live;
                connection::serve(&s, stream, peer);
            });
        if let Err(e) = started {
            log::warn!("{peer}: cannot start connection thread: {e}");
        }
    }
}

/// A running server. Dropping it shuts the server down, like [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct ServerHandle {
    state: Arc<ServerState>,
    local_addr: SocketAddr,
    threads: Vec<JoinHandle<()>>,
    timer_stop: Sender<()>,
    stopped: bool,
}

impl ServerHandle {
    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections being served now, handshakes included.
    pub fn connections(&self) -> usize {
        self.state.live()
    }

    /// Stops the server: stops accepting, sends 1001 to every session after the messages
    /// already queued, waits for the closing handshakes (at most the close timeout), cuts what
    /// is left, and joins the server's threads. Returns the number of connection threads that
    /// were still running when it gave up (0 normally: only a handler that never returns keeps
    /// one alive).
    pub fn shutdown(mut self) -> usize {
        self.stop()
    }

    fn stop(&mut self) -> usize {
        if self.stopped {
            return 0;
        }
        self.stopped = true;
        let state = &self.state;
        state.shutting_down.store(true, Ordering::Release);
        // Wake the blocking accept with a connection of our own.
        let _ = TcpStream::connect_timeout(&wake_addr(self.local_addr), Duration::from_secs(1));
        if !self.threads.is_empty() {
            let _ = self.threads.remove(0).join(); // the listener
        }
        let now = state.clock.now_ms();
        state.each_conn(|c| {
            if c.phase() == HANDSHAKE {
                c.cut(Cut::Shutdown);
            } else {
                c.request_close(CloseCode::GOING_AWAY, "server shutting down", now);
            }
        });
        let grace = state.config.close_timeout + Duration::from_secs(1);
        let mut left = state.wait_idle(Instant::now() + grace);
        if left > 0 {
            state.each_conn(|c| c.cut(Cut::Shutdown));
            left = state.wait_idle(Instant::now() + Duration::from_secs(2));
            if left > 0 {
                log::warn!("shutdown: {left} connection threads still running (handlers not returning)");
            }
        }
        let _ = self.timer_stop.send(());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        log::info!("syncws on {} stopped", self.local_addr);
        left
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where to connect to reach our own listener.
fn wake_addr(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}
