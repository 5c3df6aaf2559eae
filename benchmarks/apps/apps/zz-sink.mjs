import { createServer } from 'node:net';

const port = Number(process.env.PORT ?? 3003);
createServer((s) => {
  let n = 0;
  s.on('data', (c) => {
    n += c.length;
  });
  s.on('end', () => {
    s.end(String(n));
  });
}).listen(port, () => console.log(`sink listening on port ${port}`));
