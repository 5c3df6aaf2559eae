// An Express 5 app as people write it: a small JSON GET, a POST that echoes its body, and a
// 10 MiB streamed download. PORT from the environment (3000 by default).
import { Readable } from 'node:stream';
import express from 'express';

const port = Number(process.env.PORT ?? 3000);
const chunk = Buffer.alloc(64 * 1024, 'x');

function* tenMiB() {
  for (let i = 0; i < 160; i++) yield chunk;
}

const app = express();

app.get('/', (_req, res) => {
  res.json({ hello: 'world' });
});

app.post('/echo', express.raw({ type: '*/*', limit: '16mb' }), (req, res) => {
  res.type('application/octet-stream').send(req.body);
});

app.get('/download', (_req, res) => {
  res.type('application/octet-stream');
  Readable.from(tenMiB()).pipe(res);
});

app.listen(port, () => {
  console.log(`express listening on port ${port}`);
});
