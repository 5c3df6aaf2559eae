// A plain node:http server: a small JSON GET, a POST that echoes its body, and a 10 MiB streamed
// download. PORT from the environment (3000 by default).
import { createServer } from 'node:http';
import { Readable } from 'node:stream';

const port = Number(process.env.PORT ?? 3000);
const chunk = Buffer.alloc(64 * 1024, 'x');

function* tenMiB() {
  for (let i = 0; i < 160; i++) yield chunk;
}

const server = createServer((req, res) => {
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
  console.log(`http listening on port ${port}`);
});
