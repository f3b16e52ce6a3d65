// A Node `ws` server for the syncws client's tests (a peer nobody here wrote).
// Usage: node node_server.js plain|deflate [CERT KEY]   (with CERT and KEY: TLS, wss://)
// Prints "listening PORT", then "pong" at the first pong of a connection and "closed CODE
// REASON" when one ends. Paths: /echo echoes; /fragments sends "Hello, board" in three text
// fragments and [0, 1, 2] in two binary ones, then echoes; /close/CODE closes with CODE.
// It pings every 0.2 s.
const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');
const deflate = process.argv[2] === 'deflate';
const options = {
  perMessageDeflate: deflate ? { threshold: 0 } : false,
  maxPayload: 32 << 20,
};
let wss;
if (process.argv[4]) {
  const server = https.createServer({ cert: fs.readFileSync(process.argv[3]), key: fs.readFileSync(process.argv[4]) });
  wss = new WebSocketServer({ server, ...options });
  server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
} else {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  wss.on('listening', () => console.log('listening ' + wss.address().port));
}
wss.on('connection', (ws, req) => {
  let ponged = false;
  ws.on('pong', () => {
    if (!ponged) console.log('pong');
    ponged = true;
  });
  const pinger = setInterval(() => ws.ping('node ping'), 200);
  ws.on('close', (code, reason) => {
    clearInterval(pinger);
    console.log(`closed ${code} ${reason}`);
  });
  if (req.url.startsWith('/close/')) {
    ws.close(Number(req.url.split('/')[2]), 'node bye');
    return;
  }
  if (req.url === '/fragments') {
    ws.send('Hel', { fin: false });
    ws.send('lo, ', { fin: false });
    ws.send('board', { fin: true });
    ws.send(Buffer.from([0, 1]), { binary: true, fin: false });
    ws.send(Buffer.from([2]), { binary: true, fin: true });
  }
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
