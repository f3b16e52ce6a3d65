//! The client under construction, and the thread that runs it: dial, serve the session,
//! reconnect as the policy says.

use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Instant;

use super::config::ClientConfig;
use super::handle::{ClientHandle, ClientShared};
use super::open::{Handshaken, handshake};
use super::url::WsUrl;
use crate::connection::dispatch::Target;
use crate::connection::run;
use crate::connection::settings::Settings;
use crate::connection::timer::{Timer, TimerQueue};
use crate::connection::{Handler, Session};
use crate::error::{Error, Result};
use crate::extensions::{ClientExtension, client_offer};
use crate::protocol::{CloseCode, CloseReason};

/// A WebSocket client under construction: a config and the extensions it offers.
///
/// ```no_run
/// use syncws::{Client, ClientConfig, Handler, Message, Session};
///
/// struct Print;
/// impl Handler for Print {
///     fn on_open(&mut self, session: &Session) {
///         let _ = session.send_text("hello");
///     }
///     fn on_message(&mut self, session: &Session, message: Message) {
///         println!("{message:?}");
///         session.close(syncws::CloseCode::NORMAL, "got it");
///     }
/// }
///
/// let client = Client::new(ClientConfig::default()).connect("ws://127.0.0.1:8080/echo", Print)?;
/// let reason = client.wait()?;
/// println!("closed: {reason}");
/// # Ok::<(), syncws::Error>(())
/// ```
pub struct Client {
    config: ClientConfig,
    extensions: Vec<Arc<dyn ClientExtension>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.extensions.iter().map(|e| e.name()).collect();
        f.debug_struct("Client").field("config", &self.config).field("extensions", &names).finish()
    }
}

/// Connects `handler` to `url` with the default [`ClientConfig`]: see [`Client::connect`].
///
/// # Errors
/// As [`Client::connect`].
pub fn connect<H: Handler + Send + 'static>(url: &str, handler: H) -> Result<ClientHandle> {
    Client::new(ClientConfig::default()).connect(url, handler)
}

/// Everything a client's attempts need.
pub(crate) struct Plan {
    pub(crate) config: ClientConfig,
    pub(crate) url: WsUrl,
    pub(crate) settings: Arc<Settings>,
    pub(crate) timer: Arc<TimerQueue>,
    pub(crate) extensions: Vec<Arc<dyn ClientExtension>>,
    /// The `Sec-WebSocket-Extensions` offer.
    pub(crate) extension_offer: String,
    /// TLS for a `wss://` URL (the config's, or the bundled roots).
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::transport::tls::ClientTls>,
}

impl Client {
    /// A client with `config` and no extensions.
    pub fn new(config: ClientConfig) -> Self {
        Client { config, extensions: Vec::new() }
    }

    /// Offers `extension` (such as `Deflate`, feature `deflate`) in the handshake; call it
    /// several times to offer several, in order of preference.
    pub fn extension(mut self, extension: impl ClientExtension + 'static) -> Self {
        self.extensions.push(Arc::new(extension));
        self
    }

    /// Connects to `url` (`ws://host[:port][/path][?query]`) and serves the session with
    /// `handler` on a thread of the client's (the same [`Handler`] as a server's: `on_open`,
    /// `on_message`, `on_close`, `on_error`; with reconnect on, the same handler serves each
    /// connection in turn).
    ///
    /// Without reconnect, the first connection is made before this returns: a failure is
    /// this call's error. With [`ClientConfig::reconnect`] set, this returns at once and the
    /// client dials in the background, for as long as its policy says.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`], [`Error::InvalidConfig`] always; without reconnect also
    /// [`Error::Connect`] (name lookup, TCP), [`Error::Handshake`] (a refusal, a wrong
    /// accept key, an unoffered subprotocol or extension, the handshake timeout, a connection
    /// closed before the answer), `Error::Tls` (feature `tls`: a certificate refused, an
    /// alert, a server that does not speak TLS), [`Error::Spawn`].
    pub fn connect<H: Handler + Send + 'static>(self, url: &str, handler: H) -> Result<ClientHandle> {
        self.start(url, move || Target::Handler(Box::new(handler)))
    }

    /// Connects to `url` in the channel style: `f` runs on a thread of its own for each
    /// connection, reading [`Session::incoming`] (as [`Route::channel`](crate::Route::channel)
    /// on a server); the session closes with 1000 when it returns.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub fn channel<F>(self, url: &str, f: F) -> Result<ClientHandle>
    where
        F: Fn(Session) + Send + Sync + 'static,
    {
        let f: Arc<crate::connection::dispatch::ChannelFn> = Arc::new(f);
        self.start(url, move || Target::Channel(f))
    }

    fn start(self, url: &str, target: impl FnOnce() -> Target + Send + 'static) -> Result<ClientHandle> {
        self.config.check()?;
        let url = WsUrl::parse(url)?;
        let plan = Arc::new(Plan {
            #[cfg(feature = "tls")]
            tls: url.secure.then(|| self.config.tls.clone().unwrap_or_default()),
            settings: Arc::new(self.config.settings()),
            timer: client_timer()?,
            extension_offer: client_offer(&self.extensions),
            extensions: self.extensions,
            url,
            config: self.config,
        });
        let shared = Arc::new(ClientShared::default());
        // Without reconnect the first attempt is this call's: its error is ours to return.
        let first = if plan.config.reconnect.is_none() {
            shared.set_attempts(1);
            Some(handshake(&plan, &plan.url, 1, &shared)?)
        } else {
            None
        };
        let (p, s) = (plan.clone(), shared.clone());
        let thread = thread::Builder::new()
            .name("syncws-client".to_owned())
            .stack_size(plan.config.stack_size)
            .spawn(move || {
                // The handle learns of the end even if this thread panics.
                let _finished = Finished(s.clone());
                serve(&p, &s, target(), first)
            })
            .map_err(Error::Spawn)?;
        Ok(ClientHandle::new(shared, thread))
    }
}

/// The timer thread of every client of the process, started with the first one. One thread
/// for all: a board's few clients need no more, and a client set of its own would cost a
/// thread per set for nothing. It lives as long as the process and sleeps while no client
/// needs it.
fn client_timer() -> Result<Arc<TimerQueue>> {
    static TIMER: OnceLock<Timer> = OnceLock::new();
    if let Some(t) = TIMER.get() {
        return Ok(t.queue().clone());
    }
    let started = Timer::start("syncws-ctimer").map_err(Error::Spawn)?;
    // Another thread may have won the race: its timer serves, ours stops when dropped.
    let _ = TIMER.set(started);
    Ok(TIMER.get().expect("the timer was just set").queue().clone())
}

/// Tells the handle that the client's thread has ended, however it ended.
struct Finished(Arc<ClientShared>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// The client's life: attempts, sessions, and the waits between them.
fn serve(
    plan: &Plan,
    shared: &Arc<ClientShared>,
    mut target: Target,
    first: Option<Handshaken>,
) -> Result<CloseReason> {
    let reconnect = plan.config.reconnect.clone();
    let give_up = |failures: u32| {
        reconnect.as_ref().is_none_or(|r| r.get_max_attempts().is_some_and(|m| failures >= m))
    };
    let mut attempt = u32::from(first.is_some());
    let mut next = first;
    // Failed attempts in a row (for max_attempts), and the number of the coming retry in this
    // run of retries (for the backoff step: a session that ended early does not reset it).
    let (mut failures, mut retry) = (0, 0);
    loop {
        let handshaken = match next.take() {
            Some(h) => h,
            None => {
                attempt += 1;
                shared.set_attempts(attempt);
                match handshake(plan, &plan.url, attempt, shared) {
                    Ok(h) => h,
                    Err(e) => {
                        failures += 1;
                        retry += 1;
                        log::info!("{}: attempt {attempt} failed: {e}", plan.url.host_header);
                        if give_up(failures) || matches!(e, Error::Closed) {
                            return Err(e);
                        }
                        let delay = reconnect.as_ref().map(|r| r.delay(retry)).unwrap_or_default();
                        log::debug!("{}: next attempt in {delay:?}", plan.url.host_header);
                        if shared.sleep_unless_stopped(delay) {
                            return Err(e);
                        }
                        continue;
                    }
                }
            }
        };
        failures = 0;
        // A close that came after the handshake closes the session as soon as it opens
        // (`ClientShared::set_session`), with a close frame.
        let opened_at = Instant::now();
        let s = shared.clone();
        let opened = handshaken.into_opened(
            target,
            attempt,
            Box::new(move |session: &Session| s.set_session(Some(session.clone()))),
        );
        let ended = run::run(opened);
        shared.set_session(None);
        target = ended.target;
        let reason = ended.reason;
        // The client's own close (its handler's or its handle's) ends it, answered or not.
        let closed_here = !reason.by_peer
            && reason.code != CloseCode::ABNORMAL
            && matches!(ended.failure, None | Some(Error::CloseTimeout));
        // A handler that panicked is not trusted with another connection.
        let panicked = matches!(ended.failure, Some(Error::HandlerPanicked));
        let last = match ended.failure {
            Some(e) => Err(e),
            None => Ok(reason),
        };
        let Some(policy) = reconnect.as_ref() else { return last };
        if closed_here || panicked || shared.stopping() {
            return last;
        }
        // A connection that lasted starts the backoff again; one that ended early goes on
        // with it, so a server that accepts and closes at once is not hammered.
        retry = if opened_at.elapsed() >= policy.get_max_delay() { 1 } else { retry + 1 };
        let delay = policy.delay(retry);
        log::info!("{}: connection ended; reconnecting in {delay:?}", plan.url.host_header);
        if shared.sleep_unless_stopped(delay) {
            return last;
        }
    }
}
