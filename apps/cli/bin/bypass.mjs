#!/usr/bin/env node
// The `bypass` command, for a project that installed @bypass/cli (see the README, "Adding bypass
// to an existing project"): bypass is TypeScript source, so tsx's loader is registered first, as
// `node --import tsx` does for the repository's own `pnpm bypass`. Paths are the caller's: the
// program and any relative path are taken from the current folder.
import 'tsx';

await import('../src/main.ts');
