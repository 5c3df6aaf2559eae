// A plain node:https server: a small JSON GET, a POST that echoes its body, and a 10 MiB streamed
// download. PORT from the environment (3000 by default); the key and certificate are PEM files
// named by TLS_KEY and TLS_CERT (key.pem and cert.pem by default).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { Readable } from 'node:stream';

const port = Number(process.env.PORT ?? 3000);
const chunk = Buffer.alloc(64 * 1024, 'x');

function* tenMiB() {
  for (let i = 0; i < 160; i++) yield chunk;
}

const options = {
  key: readFileSync(process.env.TLS_KEY ?? 'key.pem'),
  cert: readFileSync(process.env.TLS_CERT ?? 'cert.pem'),
};

const server = createServer(options, (req, res) => {
  if (req.method === 'GET' && req.url === '/') {
    const body = JSON.stringify({ hello: 'world' });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  } else if (req.method === 'POST' && req.url === '/echo') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': body.length,
      });
      res.end(body);
    });
  } else if (req.method === 'GET' && req.url === '/download') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    Readable.from(tenMiB()).pipe(res);
  } else {
    res.writeHead(404).end();
  }
});

server.listen(port, () => {
  console.log(`https listening on port ${port}`);
});
