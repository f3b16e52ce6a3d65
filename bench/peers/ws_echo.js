// An echo server on Node's `ws`, as a user would write one, for syncws-bench (kind `node-ws`).
// permessage-deflate is offered with ws's defaults (level 6, context takeover, messages of
// 1024 bytes or more compressed); a client that does not ask for it gets plain frames.
// Prints `listening ADDR VERSIONS`, echoes every message on any path, exits when stdin closes.
'use strict';

const { WebSocketServer } = require('ws');
const wsVersion = require('ws/package.json').version;

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });

server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on('error', () => socket.terminate());
});

server.on('listening', () => {
  const { address, port } = server.address();
  process.stdout.write(`listening ${address}:${port} ws ${wsVersion} on node ${process.version}\n`);
});

process.stdin.on('data', () => {});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
