//! Every plain HTTP answer of the server: one well-formed set of headers, and no way for a
//! handler's data to inject headers.

mod support;

use std::net::SocketAddr;

use support::{http, start, status, upgrade_request};
use syncws::{Config, Handler, HttpResponse, Message, Server, Session};

struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, session: &Session, message: Message) {
        let _ = session.send(message);
    }
}

/// A server with an echo route at /echo, a page at / and an HTTP route that copies a decoded
/// query into a header, as a careless handler would.
fn server(config: Config) -> syncws::ServerHandle {
    start(
        Server::new(config)
            .route("/echo", || Echo)
            .page("/", "text/html; charset=utf-8", "<h1>board</h1>")
            .http_route("/greet", |req| {
                let name =
                    req.query().unwrap_or("").replace("%0d", "\r").replace("%0a", "\n").replace("%20", " ");
                HttpResponse::ok("text/plain", "hello").header("X-Name", &name)
            }),
    )
}

fn get(addr: SocketAddr, path: &str) -> String {
    http(addr, &format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"))
}

/// Header names of a response, lower case, and its body.
fn parse(response: &str) -> (Vec<(String, String)>, String) {
    let (head, body) = response.split_once("\r\n\r\n").expect("a complete head");
    let headers = head
        .lines()
        .skip(1)
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap_or_else(|| panic!("not a header line: {l:?}"));
            (k.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    (headers, body.to_owned())
}

#[test]
fn a_header_value_with_crlf_is_refused_not_sent() {
    let server = server(Config::default());
    let ok = get(server.local_addr(), "/greet?ada");
    assert_eq!(status(&ok), 200);
    assert!(ok.contains("X-Name: ada\r\n"));
    let injected = get(server.local_addr(), "/greet?x%0d%0aSet-Cookie:%20session=evil");
    assert_eq!(status(&injected), 500, "the refused header fails the handler: {injected}");
    assert!(!injected.to_ascii_lowercase().contains("set-cookie"), "header injected: {injected}");
}

#[test]
fn every_answer_has_one_consistent_set_of_headers() {
    let server = server(Config::default().allowed_origins(Some(["http://board"])).max_request_size(512));
    let addr = server.local_addr();
    let answers = [
        (200, get(addr, "/")),
        (404, get(addr, "/nowhere")),
        (426, get(addr, "/echo")),
        (400, http(addr, &upgrade_request("/echo", "").replace("Sec-WebSocket-Key", "X-Key"))),
        (426, http(addr, &upgrade_request("/echo", "").replace("Version: 13", "Version: 8"))),
        (403, http(addr, &upgrade_request("/echo", "Origin: http://evil\r\n"))),
        (405, http(addr, "POST /echo HTTP/1.1\r\nHost: test\r\n\r\n")),
        (431, http(addr, &upgrade_request("/echo", &format!("X-Big: {}\r\n", "a".repeat(600))))),
        (500, get(addr, "/greet?%0a")),
    ];
    for (want, response) in answers {
        assert_eq!(status(&response), want, "{response}");
        let (headers, body) = parse(&response);
        let mut names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a header given twice in the {want} answer: {response}");
        let value = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(value("content-length"), Some(body.len().to_string().as_str()), "{response}");
        let connection = value("connection").unwrap_or_default().to_ascii_lowercase();
        assert!(connection.split(',').any(|o| o.trim() == "close"), "the server closes: {response}");
        // A plain GET on the WebSocket path is told to upgrade, and Upgrade goes with a
        // Connection: upgrade option (RFC 9110 §7.8).
        let upgrade = value("upgrade");
        if want == 426 && !response.contains("unsupported WebSocket version") {
            assert_eq!(upgrade, Some("websocket"), "{response}");
        }
        if upgrade.is_some() {
            assert!(connection.split(',').any(|o| o.trim() == "upgrade"), "{response}");
        }
    }
}
