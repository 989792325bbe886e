// The demo generator is no activity: it lives in registry/demo.ts. Kept for the modules that still import it from here (issue 11).
export { generateDemoDossiers, type DemoOptions } from '../registry/demo';
