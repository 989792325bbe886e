import fs from 'node:fs';
import nodemailer from 'nodemailer';
import { listCaughtMail, startSmtpCatcher } from '../../workers/smtp-catcher';
import { tempDir } from '../helpers/env';
import { freePort } from '../stack/helpers';

test('the dev SMTP catcher keeps every message as an .eml file, with its attachments (R-BK-8 mails can be read)', async () => {
  const dir = tempDir('mail');
  const catcher = await startSmtpCatcher({ host: '127.0.0.1', port: await freePort(), dir });
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: catcher.port, secure: false, auth: { user: 'any', pass: 'thing' } });
  try {
    await transport.sendMail({
      from: 'Nightshift <nightshift@localhost>',
      to: 'ops@example.test',
      subject: 'ISACOMPTA CONNECT: Rapport de la sauvegarde des dossiers modifiés',
      text: 'Des erreurs sont survenues',
      attachments: [{ filename: 'Svgauto-DossiersEnErreur.isa', content: 'DEMO0003\n' }],
    });
    const files = listCaughtMail(dir);
    expect(files).toHaveLength(1);
    const eml = fs.readFileSync(files[0]!, 'utf8');
    expect(eml).toMatch(/^Subject: /m);
    expect(eml).toContain('Svgauto-DossiersEnErreur.isa');
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  } finally {
    transport.close();
    await catcher.close();
  }
});
