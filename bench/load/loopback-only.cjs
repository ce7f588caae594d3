// Copied from the team's internal peer-bench harness (loopback-only.cjs), unchanged apart from this line.
// Preload (node --require ./loopback-only.cjs ...) that forces any TCP server a Node program
// opens without an explicit host onto 127.0.0.1. Used to run third-party gateways that
// have no bind-address option (Portkey's start-server listens on all interfaces by default).
'use strict';
const net = require('node:net');
const HOST = process.env.BIND_HOST || '127.0.0.1';
const orig = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const a0 = args[0];
  if (typeof a0 === 'number' || (typeof a0 === 'string' && /^\d+$/.test(a0))) {
    if (args.length === 1) args.push(HOST);                               // listen(port)
    else if (typeof args[1] === 'function') args.splice(1, 0, HOST);      // listen(port, cb)
    else if (args[1] === undefined || args[1] === null) args[1] = HOST;   // listen(port, undefined, cb)
  } else if (a0 && typeof a0 === 'object' && a0.path === undefined && !a0.host) {
    args[0] = { ...a0, host: HOST };
  }
  return orig.apply(this, args);
};
