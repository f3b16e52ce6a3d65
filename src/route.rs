//! Routes: which handler serves which path, and with which subprotocols.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::handler::Handler;
use crate::session::Session;

type HandlerFactory = dyn Fn() -> Box<dyn Handler> + Send + Sync;
type ChannelFn = dyn Fn(Session) + Send + Sync;

/// How a route serves its connections.
pub(crate) enum RouteKind {
    /// A [`Handler`] per connection, called on the connection's thread.
    Handler(Box<HandlerFactory>),
    /// Ktor's channel style: a function run on its own thread, reading `session.incoming()`.
    Channel(Arc<ChannelFn>),
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
}

impl Route {
    /// A route whose connections each get a handler made by `factory`.
    pub fn handler<H, F>(factory: F) -> Self
    where
        H: Handler + 'static,
        F: Fn() -> H + Send + Sync + 'static,
    {
        Route {
            kind: RouteKind::Handler(Box::new(move || Box::new(factory()))),
            protocols: Vec::new(),
        }
    }

    /// A route in Ktor's channel style: `f` runs on a thread of its own for each connection
    /// (the third thread of that connection), iterates `session.incoming()` and sends with
    /// `session.send`. The session closes with 1000 when `f` returns.
    pub fn channel<F>(f: F) -> Self
    where
        F: Fn(Session) + Send + Sync + 'static,
    {
        Route {
            kind: RouteKind::Channel(Arc::new(f)),
            protocols: Vec::new(),
        }
    }

    /// Subprotocols this route speaks, in the server's order of preference is not used: the
    /// first protocol the client offers that is in this list is selected
    /// (`Sec-WebSocket-Protocol`). A client offering none of them still connects, with no
    /// protocol selected. Defaults to none.
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            RouteKind::Handler(_) => "handler",
            RouteKind::Channel(_) => "channel",
        };
        f.debug_struct("Route")
            .field("kind", &kind)
            .field("protocols", &self.protocols)
            .finish()
    }
}

/// Path to route, plus an optional route for every other path.
#[derive(Debug, Default)]
pub(crate) struct Router {
    routes: HashMap<String, Arc<Route>>,
    fallback: Option<Arc<Route>>,
}

impl Router {
    pub(crate) fn add(&mut self, path: &str, route: Route) {
        self.routes.insert(path.to_owned(), Arc::new(route));
    }

    pub(crate) fn set_fallback(&mut self, route: Route) {
        self.fallback = Some(Arc::new(route));
    }

    pub(crate) fn find(&self, path: &str) -> Option<Arc<Route>> {
        self.routes.get(path).or(self.fallback.as_ref()).cloned()
    }
}
