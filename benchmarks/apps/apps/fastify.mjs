// A Fastify 5 app as people write it, listening on 0.0.0.0: a small JSON GET, a POST that echoes
// its body, and a 10 MiB streamed download. PORT from the environment (3000 by default).
import { Readable } from 'node:stream';
import Fastify from 'fastify';

const port = Number(process.env.PORT ?? 3000);
const chunk = Buffer.alloc(64 * 1024, 'x');

function* tenMiB() {
  for (let i = 0; i < 160; i++) yield chunk;
}

const fastify = Fastify({ bodyLimit: 16 * 1024 * 1024 });

fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
  done(null, body);
});

fastify.get('/', async () => {
  return { hello: 'world' };
});

fastify.post('/echo', async (request, reply) => {
  reply.type('application/octet-stream');
  return request.body;
});

fastify.get('/download', (_request, reply) => {
  reply.type('application/octet-stream').send(Readable.from(tenMiB()));
});

try {
  await fastify.listen({ port, host: '0.0.0.0' });
  console.log(`fastify listening on port ${port}`);
} catch (err) {
  fastify.log.error(err);
  process.exit(1);
}
