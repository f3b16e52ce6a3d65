// Drives a syncws server with Node's `ws` client (a peer nobody here wrote), with
// permessage-deflate on. Usage: node node_client.js URL [no-context | bits=N]
// (bits=N: offers server_max_window_bits=N and client_max_window_bits=N)
// For wss:// URLs it trusts the CA file named by SYNCWS_CA and shows the client certificate
// of SYNCWS_CLIENT_CERT and SYNCWS_CLIENT_KEY if they are set.
// Prints "ok <extensions>" and exits 0, or prints the failure and exits 1.
const WebSocket = require('ws');
const url = process.argv[2];
const noContext = process.argv[3] === 'no-context';
const bits = /^bits=(\d+)$/.exec(process.argv[3] || '');
const perMessageDeflate = noContext
  ? { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true }
  : bits
    ? { threshold: 0, serverMaxWindowBits: Number(bits[1]), clientMaxWindowBits: Number(bits[1]) }
    : { threshold: 0 };
const fail = (why) => { console.log('FAIL ' + why); process.exit(1); };
setTimeout(() => fail('timeout'), 20000).unref();

const fs = require('fs');
const tls = {};
if (process.env.SYNCWS_CA) tls.ca = fs.readFileSync(process.env.SYNCWS_CA);
if (process.env.SYNCWS_CLIENT_CERT) tls.cert = fs.readFileSync(process.env.SYNCWS_CLIENT_CERT);
if (process.env.SYNCWS_CLIENT_KEY) tls.key = fs.readFileSync(process.env.SYNCWS_CLIENT_KEY);
const ws = new WebSocket(url, { perMessageDeflate, ...tls });
const big = Buffer.alloc(100 * 1024);
for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
const expected = [['text', 'héllo deflate'], ['binary', Buffer.from([0, 1, 2, 255])], ['binary', big]];
for (let i = 0; i < 50; i++) expected.push(['text', 'repeat '.repeat(i + 1)]);
// Repeats 3,000 bytes back, within a message and from one message to the next: beyond a small
// window, so a peer that kept more history than agreed would be caught.
let seed = 7;
const block = Buffer.alloc(3000);
for (let i = 0; i < block.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; block[i] = seed >>> 24; }
expected.push(['binary', block], ['binary', block], ['binary', Buffer.concat([block, block, block])]);
let next = 0;
let negotiated = '';
ws.on('upgrade', (res) => { negotiated = res.headers['sec-websocket-extensions'] || ''; });

ws.on('open', () => {
  for (const [kind, data] of expected) ws.send(data, { binary: kind === 'binary', compress: true });
});
ws.on('message', (data, isBinary) => {
  const [kind, want] = expected[next];
  if (isBinary !== (kind === 'binary')) fail(`message ${next}: type`);
  const got = isBinary ? data : data.toString();
  if (isBinary ? !Buffer.from(want).equals(got) : got !== want) fail(`message ${next}: payload`);
  if (++next === expected.length) ws.close(4000, 'node done');
});
ws.on('close', (code, reason) => {
  if (next !== expected.length) fail(`closed early with ${code}`);
  if (code !== 4000 || reason.toString() !== 'node done') fail(`close ${code} ${reason}`);
  console.log('ok ' + negotiated);
  process.exit(0);
});
ws.on('error', (e) => fail(e.message));
