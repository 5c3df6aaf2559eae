// The shared configuration, with this folder's flat layout (scaling.test.ts beside scaling.ts).
import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

export default mergeConfig(shared, defineConfig({ test: { include: ['*.test.ts'] } }));
