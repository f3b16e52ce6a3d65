// End-to-end test of syncws-echo's page in headless Chromium (Debian's package) driven by
// playwright-core. Usage: node browser_e2e.js PAGE_URL SCREENSHOT_PATH
// Prints one JSON line per step; "shutdown-ready" asks the test to stop the server, after
// which the page must see the server's 1001. Exits 1 on the first failure.
const { chromium } = require('playwright-core');
const [pageUrl, screenshot] = process.argv.slice(2);
const report = (step, data) => console.log(JSON.stringify({ step, ...data }));
const fail = (why) => { report('fail', { why: String(why) }); process.exit(1); };
setTimeout(() => fail('timeout'), 60000).unref();

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-proxy-server'],
  });
  const page = await browser.newPage({ viewport: { width: 820, height: 760 } });
  page.on('pageerror', (e) => fail('page error: ' + e.message));
  const response = await page.goto(pageUrl);
  report('loaded', { status: response.status(), title: await page.title() });
  await page.waitForFunction(() => window.echo && window.echo.state === 'open', null, { timeout: 10000 });
  report('open', { extensions: await page.evaluate(() => window.echo.ws.extensions) });

  // Text through the UI: type, click Send, wait for the echo in the log.
  await page.fill('#text', 'hello from chromium ✓');
  await page.click('#send');
  await page.waitForFunction(() => window.echo.received.includes('hello from chromium ✓'), null, { timeout: 5000 });
  report('text', { ok: true });

  // Binary and a 100 KB message through the page's socket.
  const roundTrips = await page.evaluate(async () => {
    const ws = window.echo.ws;
    const next = () => new Promise((resolve) => ws.addEventListener('message', (e) => resolve(e.data), { once: true }));
    const bytes = new Uint8Array(256).map((_, i) => 255 - i);
    let p = next();
    ws.send(bytes);
    const back = new Uint8Array(await p);
    const binaryOk = back.length === 256 && back.every((b, i) => b === 255 - i);
    const big = 'syncws '.repeat(100000 / 7 + 1).slice(0, 100000);
    p = next();
    ws.send(big);
    const bigOk = (await p) === big;
    return { binaryOk, bigOk };
  });
  report('binary', { ok: roundTrips.binaryOk });
  report('large', { ok: roundTrips.bigOk });

  await page.screenshot({ path: screenshot, fullPage: true });
  report('screenshot', { path: screenshot });

  // A clean close from the page.
  await page.click('#disconnect');
  await page.waitForFunction(() => window.echo.lastClose !== null, null, { timeout: 5000 });
  report('closed', await page.evaluate(() => window.echo.lastClose));

  // Reconnect, then let the test shut the server down: the page must see 1001.
  await page.evaluate(() => { window.echo.lastClose = null; });
  await page.click('#connect');
  await page.waitForFunction(() => window.echo.state === 'open', null, { timeout: 5000 });
  report('shutdown-ready', {});
  await page.waitForFunction(() => window.echo.lastClose !== null, null, { timeout: 20000 });
  report('shutdown', await page.evaluate(() => window.echo.lastClose));
  await browser.close();
  process.exit(0);
})().catch(fail);
