//! A raw route (Ktor's `webSocketRaw`): logs every frame as it arrives, fragments and control
//! frames included, answers pings and the close by hand, and echoes data frames as they are.
//!
//! Run: `RUST_LOG` is not needed; `cargo run --example raw`, then connect to
//! ws://127.0.0.1:8080/raw and send a few messages.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use syncws::{CloseReason, Config, Frame, Opcode, RawHandler, Route, Server, Session};

struct FrameLogger;

impl RawHandler for FrameLogger {
    fn on_frame(&mut self, session: &Session, frame: Frame) {
        println!(
            "{}: {:?} fin={} rsv={:03b} {} bytes",
            session.remote_addr(),
            frame.opcode,
            frame.fin,
            frame.rsv,
            frame.payload.len()
        );
        let answer = match frame.opcode {
            // Nothing is automatic on a raw route: pongs and the closing handshake are ours.
            Opcode::Ping => Frame::pong(frame.payload),
            Opcode::Pong => return,
            Opcode::Close => frame,
            Opcode::Text | Opcode::Binary | Opcode::Continuation => frame,
        };
        if let Err(e) = session.send_frame(answer) {
            println!("{}: cannot answer: {e}", session.remote_addr());
        }
    }

    fn on_close(&mut self, session: &Session, reason: &CloseReason) {
        println!("{}: closed {reason}", session.remote_addr());
    }
}

fn main() -> Result<(), syncws::Error> {
    let server = Server::new(Config::default())
        .route_with("/raw", Route::raw(|| FrameLogger))
        .bind("127.0.0.1:8080")?;
    println!("raw frames on ws://{}/raw", server.local_addr());
    // Serve until Ctrl-C (or SIGTERM), then close every session with 1001.
    Signals::new([SIGINT, SIGTERM])?.forever().next();
    server.shutdown();
    Ok(())
}
