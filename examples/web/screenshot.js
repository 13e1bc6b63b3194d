#!/usr/bin/env node
// Takes docs/web-demo.png: the demo page in headless Debian Chromium (playwright-core), with
// one test image picked.   node examples/web/screenshot.js [out.png]
'use strict';
const path = require('path');
const { chromium } = require('playwright-core');
const { startServer } = require('./server.js');

async function main() {
  const out = path.resolve(process.argv[2] || path.join(__dirname, '..', '..', 'docs', 'web-demo.png'));
  const server = await startServer({});
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 660 } });
    await page.goto(server.url);
    await page.evaluate(() => window.demo);
    await page.click('#grid canvas:nth-child(5)');
    await page.screenshot({ path: out });
    console.log(`wrote ${path.relative(process.cwd(), out)}`);
  } finally {
    await browser.close();
    await server.close();
  }
}
main().catch((e) => { console.error(`screenshot: ${e.message.split('\n')[0]}`); process.exit(1); });
