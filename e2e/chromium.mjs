// How Parley starts Debian's Chromium for the browser tests and `npm run bench:ui`: the system
// binary (Playwright never downloads one), headless, without the background networking this
// machine's closed network would refuse.
export const chromiumLaunchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--no-first-run',
  ],
};
