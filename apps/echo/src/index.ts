/** @bypass/echo: a TCP echo server on the callback socket API. */
export * from './echo.js';
export * from './lcore.js';
export * from './server.js';
