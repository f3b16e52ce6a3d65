//! Routing and every HTTP answer of the handshake, over real loopback sockets.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::*;
use syncws::{Config, Route, Server};

fn echo_server(config: Config) -> syncws::ServerHandle {
    let (tx, _rx) = crossbeam_channel::unbounded();
    start(
        Server::new(config).route("/echo", move || Recorder { events: tx.clone() }).route_with(
            "/chat",
            Route::channel(|s| {
                for m in s.incoming() {
                    let _ = s.send(m);
                }
            })
            .protocols(["chat.v2", "chat.v1"]),
        ),
    )
}

#[test]
fn upgrade_succeeds_with_the_right_accept_key() {
    let server = echo_server(Config::default());
    let mut c = Client::connect(server.local_addr(), "/echo");
    // RFC 6455 §1.3 example key and accept value.
    assert_eq!(c.header("sec-websocket-accept").as_deref(), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert_eq!(c.header("sec-websocket-protocol"), None);
    c.send_text("hi");
    assert_eq!(c.read_data().unwrap().text(), "hi");
}

#[test]
fn unknown_path_is_404() {
    let server = echo_server(Config::default());
    let r = http(server.local_addr(), &upgrade_request("/nope", ""));
    assert_eq!(status(&r), 404, "{r}");
}

#[test]
fn plain_get_is_426_with_upgrade_header() {
    let server = echo_server(Config::default());
    let r = http(server.local_addr(), "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(status(&r), 426, "{r}");
    assert!(r.contains("Upgrade: websocket"), "{r}");
}

#[test]
fn wrong_version_is_426_with_version_13() {
    let server = echo_server(Config::default());
    let req = upgrade_request("/echo", "").replace("Version: 13", "Version: 8");
    let r = http(server.local_addr(), &req);
    assert_eq!(status(&r), 426, "{r}");
    assert!(r.contains("Sec-WebSocket-Version: 13"), "{r}");
}

#[test]
fn non_get_is_405() {
    let server = echo_server(Config::default());
    let req = upgrade_request("/echo", "").replacen("GET", "POST", 1);
    let r = http(server.local_addr(), &req);
    assert_eq!(status(&r), 405, "{r}");
    assert!(r.contains("Allow: GET"), "{r}");
}

#[test]
fn malformed_requests_are_400() {
    let server = echo_server(Config::default());
    let addr = server.local_addr();
    assert_eq!(status(&http(addr, "GARBAGE\r\n\r\n")), 400);
    let no_key = upgrade_request("/echo", "").replace(&format!("Sec-WebSocket-Key: {KEY}\r\n"), "");
    assert_eq!(status(&http(addr, &no_key)), 400);
    let bad_key = upgrade_request("/echo", "").replace(KEY, "short");
    assert_eq!(status(&http(addr, &bad_key)), 400);
    let no_connection = upgrade_request("/echo", "").replace("Connection: Upgrade\r\n", "");
    assert_eq!(status(&http(addr, &no_connection)), 400);
}

#[test]
fn long_headers_are_431() {
    let server = echo_server(Config::default().max_request_size(1024));
    let big = format!("X-Big: {}\r\n", "a".repeat(2000));
    let r = http(server.local_addr(), &upgrade_request("/echo", &big));
    assert_eq!(status(&r), 431, "{r}");
    let many: String = (0..200).map(|i| format!("X-{i}: v\r\n")).collect();
    let server = echo_server(Config::default().max_request_size(64 * 1024));
    let r = http(server.local_addr(), &upgrade_request("/echo", &many));
    assert_eq!(status(&r), 431, "{r}");
}

#[test]
fn origin_check_is_403_for_others() {
    let server = echo_server(Config::default().allowed_origins(Some(["https://board.local"])));
    let addr = server.local_addr();
    let r = http(addr, &upgrade_request("/echo", "Origin: https://evil.example\r\n"));
    assert_eq!(status(&r), 403, "{r}");
    assert!(Client::connect_with(addr, &upgrade_request("/echo", "Origin: https://BOARD.local\r\n")).is_ok());
    assert!(Client::connect_with(addr, &upgrade_request("/echo", "")).is_ok(), "no Origin: not a browser");
}

#[test]
fn subprotocol_is_the_first_offer_the_route_speaks() {
    let server = echo_server(Config::default());
    let addr = server.local_addr();
    let c = Client::connect_with(
        addr,
        &upgrade_request("/chat", "Sec-WebSocket-Protocol: x, chat.v1, chat.v2\r\n"),
    )
    .unwrap();
    assert_eq!(c.header("sec-websocket-protocol").as_deref(), Some("chat.v1"));
    let c =
        Client::connect_with(addr, &upgrade_request("/chat", "Sec-WebSocket-Protocol: other\r\n")).unwrap();
    assert_eq!(c.header("sec-websocket-protocol"), None);
}

#[test]
fn session_sees_path_query_headers_and_address() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let server = start(
        Server::new(Config::default()).fallback(Route::handler(move || Recorder { events: tx.clone() })),
    );
    let _c = Client::connect_with(
        server.local_addr(),
        &upgrade_request("/any/where?room=7&x", "X-Board: pi4\r\n"),
    )
    .unwrap();
    let Event::Open(s) = next(&rx) else { panic!("expected open") };
    assert_eq!(s.request().path(), "/any/where");
    assert_eq!(s.request().query(), Some("room=7&x"));
    assert_eq!(s.request().header("x-board"), Some("pi4"));
    assert_eq!(s.request().header("X-BOARD"), Some("pi4"));
    assert_eq!(s.remote_addr().ip().to_string(), "127.0.0.1");
    assert_eq!(s.remote_addr(), s.request().remote_addr());
}

#[test]
fn half_request_gets_408_after_the_handshake_timeout() {
    let server = echo_server(Config::default().handshake_timeout(Duration::from_millis(300)));
    let started = Instant::now();
    let r = http(server.local_addr(), "GET /echo HTTP/1.1\r\nHost: t\r\n");
    let took = started.elapsed();
    assert_eq!(status(&r), 408, "{r}");
    assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(4), "took {took:?}");
}

#[test]
fn slow_loris_is_cut_by_the_overall_deadline() {
    let server = echo_server(Config::default().handshake_timeout(Duration::from_millis(400)));
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let started = Instant::now();
    // One byte every 50 ms never finishes the request; each byte would reset a per-read timeout.
    let mut cut = false;
    for b in b"GET /echo HTTP/1.1\r\nHost: t\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
        if s.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let mut out = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(cut || text.starts_with("HTTP/1.1 408"), "got {text:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn over_max_connections_is_503_and_others_keep_working() {
    let server = echo_server(Config::default().max_connections(2));
    let addr = server.local_addr();
    let mut a = Client::connect(addr, "/echo");
    let _b = Client::connect(addr, "/echo");
    let r = http(addr, &upgrade_request("/echo", ""));
    assert_eq!(status(&r), 503, "{r}");
    a.send_text("still here");
    assert_eq!(a.read_data().unwrap().text(), "still here");
    drop(_b);
    assert!(wait_until(Duration::from_secs(5), || server.connections() == 1));
    assert!(Client::connect_with(addr, &upgrade_request("/echo", "")).is_ok());
}

#[test]
fn early_frames_after_the_request_are_kept() {
    let server = echo_server(Config::default());
    let mut req = upgrade_request("/echo", "").into_bytes();
    req.extend(encode(true, 0, 1, b"eager", true));
    let mut c = Client::connect_with_bytes(server.local_addr(), &req).unwrap();
    assert_eq!(c.read_data().unwrap().text(), "eager");
}

#[test]
fn plain_get_routes_serve_pages_beside_websockets() {
    let (tx, _rx) = crossbeam_channel::unbounded();
    let server = start(
        Server::new(Config::default())
            .page("/", "text/html; charset=utf-8", "<h1>board</h1>")
            .http_route("/status", |req| {
                syncws::HttpResponse::ok("text/plain", format!("query={}", req.query().unwrap_or("")))
                    .header("Cache-Control", "no-store")
            })
            .http_route("/boom", |_| panic!("page handler bug"))
            .route("/echo", move || Recorder { events: tx.clone() }),
    );
    let addr = server.local_addr();
    let page = http(addr, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(status(&page), 200, "{page}");
    assert!(
        page.contains("Content-Type: text/html; charset=utf-8") && page.ends_with("<h1>board</h1>"),
        "{page}"
    );
    let s = http(addr, "GET /status?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(s.contains("Cache-Control: no-store") && s.ends_with("query=x=1"), "{s}");
    assert_eq!(status(&http(addr, "GET /boom HTTP/1.1\r\nHost: t\r\n\r\n")), 500);
    assert_eq!(status(&http(addr, "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n")), 404);
    assert_eq!(status(&http(addr, &upgrade_request("/", ""))), 404, "a page is no WebSocket route");
    assert_eq!(status(&http(addr, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")), 426);
    let mut c = Client::connect(addr, "/echo");
    c.send_text("still a websocket server");
    assert_eq!(c.read_data().unwrap().text(), "still a websocket server");
}
