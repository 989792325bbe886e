// The shared-store check is no activity: it lives in shared-store/marker.ts. Kept for the modules that still import it from here (issue 11).
export * from '../shared-store/marker';
