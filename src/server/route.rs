//! Routes: which handler serves which path, and with which subprotocols.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::connection::dispatch::{ChannelFn, Target};
use crate::connection::{Handler, RawHandler, Session};
use crate::extensions::Extension;
use crate::handshake::{HttpResponse, Request};

type HandlerFactory = dyn Fn() -> Box<dyn Handler> + Send + Sync;
type RawFactory = dyn Fn() -> Box<dyn RawHandler> + Send + Sync;

/// How a route serves its connections.
pub(crate) enum RouteKind {
    /// A [`Handler`] per connection, called on the connection's thread.
    Handler(Box<HandlerFactory>),
    /// Ktor's channel style: a function run on its own thread, reading `session.incoming()`.
    Channel(Arc<ChannelFn>),
    /// Ktor's `webSocketRaw`: a [`RawHandler`] per connection sees every frame.
    Raw(Box<RawFactory>),
}

/// A WebSocket endpoint: a handler (or channel function) and its options.
///
/// ```
/// use syncws::{Message, Route, Session};
/// let route = Route::channel(|session: Session| {
///     for message in session.incoming() {
///         if session.send(message).is_err() {
///             break;
///         }
///     }
/// })
/// .protocols(["echo.v1"]);
/// ```
pub struct Route {
    pub(crate) kind: RouteKind,
    pub(crate) protocols: Vec<String>,
    /// `None`: the server's extensions.
    pub(crate) extensions: Option<Vec<Arc<dyn Extension>>>,
}

impl Route {
    /// A route whose connections each get a handler made by `factory`.
    pub fn handler<H, F>(factory: F) -> Self
    where
        H: Handler + 'static,
        F: Fn() -> H + Send + Sync + 'static,
    {
        Route::new(RouteKind::Handler(Box::new(move || Box::new(factory()))))
    }

    /// A route in Ktor's channel style: `f` runs on a thread of its own for each connection
    /// (the third thread of that connection), iterates `session.incoming()` and sends with
    /// `session.send`. The session closes with 1000 when `f` returns.
    pub fn channel<F>(f: F) -> Self
    where
        F: Fn(Session) + Send + Sync + 'static,
    {
        Route::new(RouteKind::Channel(Arc::new(f)))
    }

    fn new(kind: RouteKind) -> Self {
        Route { kind, protocols: Vec::new(), extensions: None }
    }

    /// Who serves a new connection on this route.
    pub(crate) fn target(&self) -> Target {
        match &self.kind {
            RouteKind::Handler(factory) => Target::Handler(factory()),
            RouteKind::Raw(factory) => Target::Raw(factory()),
            RouteKind::Channel(f) => Target::Channel(f.clone()),
        }
    }

    /// A raw route (Ktor's `webSocketRaw`): each connection gets a [`RawHandler`] that sees
    /// every frame as it arrives, control frames and unassembled fragments included, and sends
    /// frames with [`Session::send_frame`].
    ///
    /// syncws then answers neither pings nor close frames and sends no pings of its own on
    /// these connections: the handler is in charge (a peer's close starts the close timeout,
    /// within which the handler should answer with a close frame). What keeps the server safe
    /// still applies: masking, `max_frame_size` and 125-byte control frames, the handshake,
    /// handshake and close timeouts. Raw routes negotiate no extensions.
    pub fn raw<H, F>(factory: F) -> Self
    where
        H: RawHandler + 'static,
        F: Fn() -> H + Send + Sync + 'static,
    {
        Route::new(RouteKind::Raw(Box::new(move || Box::new(factory()))))
    }

    /// Subprotocols this route speaks (`Sec-WebSocket-Protocol`): the first protocol in the
    /// client's offer that is in this list is selected. A client offering none of them still
    /// connects, with no protocol selected. Defaults to none.
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Offers `extension` on this route. A route with extensions of its own ignores the
    /// server's ([`Server::extension`](crate::Server::extension)); call it several times to
    /// offer several. Defaults to the server's extensions.
    pub fn extension(mut self, extension: impl Extension + 'static) -> Self {
        self.extensions.get_or_insert_with(Vec::new).push(Arc::new(extension));
        self
    }

    /// Offers no extension on this route, whatever the server offers.
    pub fn no_extensions(mut self) -> Self {
        self.extensions = Some(Vec::new());
        self
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            RouteKind::Handler(_) => "handler",
            RouteKind::Channel(_) => "channel",
            RouteKind::Raw(_) => "raw",
        };
        let extensions: Option<Vec<&str>> =
            self.extensions.as_ref().map(|e| e.iter().map(|e| e.name()).collect());
        f.debug_struct("Route")
            .field("kind", &kind)
            .field("protocols", &self.protocols)
            .field("extensions", &extensions)
            .finish()
    }
}

/// Answers a plain GET with an HTTP response.
pub(crate) type HttpHandler = dyn Fn(&Request) -> HttpResponse + Send + Sync;

/// Path to route, plus an optional route for every other path, the server's extensions, and
/// plain HTTP routes.
#[derive(Default)]
pub(crate) struct Router {
    routes: HashMap<String, Arc<Route>>,
    fallback: Option<Arc<Route>>,
    extensions: Vec<Arc<dyn Extension>>,
    http: HashMap<String, Box<HttpHandler>>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let extensions: Vec<&str> = self.extensions.iter().map(|e| e.name()).collect();
        f.debug_struct("Router")
            .field("routes", &self.routes)
            .field("fallback", &self.fallback)
            .field("extensions", &extensions)
            .field("http", &self.http.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Router {
    pub(crate) fn add(&mut self, path: &str, route: Route) {
        self.routes.insert(path.to_owned(), Arc::new(route));
    }

    pub(crate) fn set_fallback(&mut self, route: Route) {
        self.fallback = Some(Arc::new(route));
    }

    pub(crate) fn add_http(&mut self, path: &str, handler: Box<HttpHandler>) {
        self.http.insert(path.to_owned(), handler);
    }

    /// The HTTP route for `path`, if any.
    pub(crate) fn http(&self, path: &str) -> Option<&HttpHandler> {
        self.http.get(path).map(|h| h.as_ref())
    }

    pub(crate) fn add_extension(&mut self, extension: Arc<dyn Extension>) {
        self.extensions.push(extension);
    }

    /// The extensions offered on `route`.
    pub(crate) fn extensions_for<'a>(&'a self, route: &'a Route) -> &'a [Arc<dyn Extension>] {
        if matches!(route.kind, RouteKind::Raw(_)) {
            return &[];
        }
        route.extensions.as_deref().unwrap_or(&self.extensions)
    }

    pub(crate) fn find(&self, path: &str) -> Option<Arc<Route>> {
        self.routes.get(path).or(self.fallback.as_ref()).cloned()
    }
}
