import crypto from 'node:crypto';
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
  // each file on its own first, so that the variable named is the one to fix (drill G: a bad certificate was said of
  // the key; a client CA file holding no certificate started a gate that refused every client)
  const why = (err: unknown) => (err instanceof Error ? err.message : String(err));
  try {
    new crypto.X509Certificate(options.cert as Buffer);
  } catch (err) {
    throw new ConfigError([{ variable: 'NIGHTSHIFT_GATE_TLS_CERT', problem: `not a PEM certificate: ${why(err)}` }]);
  }
  try {
    crypto.createPrivateKey(options.key as Buffer);
  } catch (err) {
    throw new ConfigError([{ variable: 'NIGHTSHIFT_GATE_TLS_KEY', problem: `not a PEM private key (or one protected by a passphrase): ${why(err)}` }]);
  }
  if (options.ca) {
    const pems = (options.ca as Buffer).toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    try {
      if (!pems.length) throw new Error('no certificate in it');
      for (const pem of pems) new crypto.X509Certificate(pem);
    } catch (err) {
      throw new ConfigError([{ variable: 'NIGHTSHIFT_GATE_TLS_CLIENT_CA', problem: `not PEM CA certificates: ${why(err)}` }]);
    }
  }
  try {
    tls.createSecureContext(options);
  } catch (err) {
    // the message of OpenSSL names the problem (key mismatch), never the file's content
    throw new ConfigError([{ variable: 'NIGHTSHIFT_GATE_TLS_KEY', problem: `this key does not go with the certificate of NIGHTSHIFT_GATE_TLS_CERT: ${why(err)}` }]);
  }
  return options;
}
