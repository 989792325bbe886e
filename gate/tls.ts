import fs from 'node:fs';
import tls from 'node:tls';
import { ConfigError, type GateSettings } from '../config/config';

/**
 * HTTPS for the gate (issue 9): a certificate and its key, and optionally a CA whose client certificates
 * are required (mutual TLS). Files are read once at start; a problem names its variable.
 */
export function readTlsOptions(settings: GateSettings['tls']): tls.TlsOptions | undefined {
  if (!settings) return undefined;
  const read = (variable: string, file: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new ConfigError([{ variable, problem: `cannot read ${JSON.stringify(file.slice(0, 200))} (${(err as { code?: string }).code ?? 'error'})` }]);
    }
  };
  const options: tls.TlsOptions = {
    cert: read('NIGHTSHIFT_GATE_TLS_CERT', settings.certPath),
    key: read('NIGHTSHIFT_GATE_TLS_KEY', settings.keyPath),
    minVersion: 'TLSv1.2',
    ...(settings.clientCaPath ? { ca: read('NIGHTSHIFT_GATE_TLS_CLIENT_CA', settings.clientCaPath), requestCert: true, rejectUnauthorized: true } : {}),
  };
  try {
    tls.createSecureContext(options);
  } catch (err) {
    // the message of OpenSSL names the problem (key mismatch, not PEM), never the file's content
    throw new ConfigError([{ variable: 'NIGHTSHIFT_GATE_TLS_KEY', problem: `the certificate and key cannot be used: ${err instanceof Error ? err.message : String(err)}` }]);
  }
  return options;
}
