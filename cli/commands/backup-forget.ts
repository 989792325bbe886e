import os from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../../config/config';
import { dossierCodeSchema } from '../../domain/dossier';
import { givenKeyIds } from '../../archive/keys';
import { backupDossierCommand } from '../../domain/backup-verify';
import type { Generation } from '../../domain/generation';
import { isRestorable, operatorDateTime, parseRestoreAt } from '../../domain/retention';
import { sizeText } from '../../domain/text';
import { generationAt } from '../../store/generations/prune-generation-at';
import { markForgotten } from '../../store/generations/mark-forgotten';
import { joinDecisions, loadRetention } from '../../store/generations/retention-plan';
import { pruneCandidates } from '../../store/generations/prune-candidates';
import { unknownCodes } from '../../store/patch/unknown-codes';
import { caseHint, kindFlag } from '../code-hints';
import { action, config, jsonOption, output, parseFlag, target, targetOption, wholeNumberSchema, withPools } from '../context';

interface ForgetFlags {
  id?: string;
  at?: string;
  kind?: string;
  undo?: boolean;
  target?: string;
  json?: boolean;
}

/** Who forgot it, for the audit trail (forgotten_by): the operator's account on the host the command ran on. */
function forgetter(): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (a container): the host still says where
  }
  return `backup forget by ${user}@${os.hostname()}`;
}

const generationIdSchema = wholeNumberSchema(1, Number.MAX_SAFE_INTEGER, "expected a generation's id, a whole number (the first column of 'nightshift backup list CODE')");

/**
 * `backup forget CODE --id ID | --at DATE` (R-BK-11), as restic's `forget ID` and pgBackRest's `expire --set`: one kept
 * generation marked for the next prune, which deletes it whatever the retention slots say (a known-corrupt archive kept
 * by a monthly slot fails every verification until then). Never the only generation of its kind a restore can read
 * (refused, nothing changed); a lease (a restore reading it, a patch restore point) still holds it at the prune.
 * `--undo` clears the mark while the prune has not run. Nothing is deleted here: the prune, on a worker, does it.
 */
export function registerForgetCommand(backup: Command): void {
  backup
    .command('forget')
    .description("mark one kept generation for the next prune, whatever retention keeps (restic's forget ID); never the only one a restore can read")
    .argument('<code>', 'dossier code')
    .option('--id <id>', "the generation's id (the first column of 'nightshift backup list CODE')")
    .option('--at <date>', 'the generation taken at or just before DATE (as restore --at), in the operator time zone unless it has an offset')
    .option('--kind <kind>', 'with --at: that folder kind only (normal, EchangePrest, Cloture)')
    .option('--undo', 'clear the mark (the prune has not run yet)')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (codeArg: string, flags: ForgetFlags) => {
        const code = parseFlag('CODE', dossierCodeSchema, codeArg);
        if ((flags.id === undefined) === (flags.at === undefined)) throw new UsageError('give the generation with --id ID or --at DATE (one of them)');
        if (flags.kind !== undefined && flags.at === undefined) throw new UsageError('--kind goes with --at');
        const id = flags.id === undefined ? undefined : parseFlag('--id', generationIdSchema, flags.id);
        const kind = flags.kind === undefined ? null : kindFlag(flags.kind);
        const zone = config().operatorTimeZone;
        let at: Date | undefined;
        if (flags.at !== undefined) {
          const parsed = parseRestoreAt(flags.at, zone);
          if (parsed.problem !== undefined) throw new UsageError(`--at: ${parsed.problem}`);
          at = parsed.at;
          // a date past today is most likely a typo (a year), and would name the newest generation of all: refused here,
          // where the generation is then deleted (`restore --at` says it and goes on; drill X, session 40)
          if (at.getTime() > Date.now() + 24 * 3600_000) {
            throw new UsageError(`--at: ${flags.at.trim()} is in the future: give the date of the generation to forget, or its --id ('nightshift backup list ${code}'); nothing changed`);
          }
        }
        const t = target(flags.target);
        const result = await withPools(t.name, async (pool) => {
          const { generations, now } = await pruneCandidates(pool, code, { lock: false });
          const chosen = id !== undefined ? generations.find((g) => g.id === id) : await generationAt(pool, code, at!, { kind });
          if (!chosen) {
            if (!generations.length && (await unknownCodes(pool, [code])).length) throw new UsageError(`unknown dossier ${code} in target ${t.name}${await caseHint(pool, code)}`);
            const which = id !== undefined ? `generation ${id}` : `${kind === null ? '' : `${kind} `}generation at or before ${operatorDateTime(at!, zone)} (${zone})`;
            throw new UsageError(`no kept ${which} of dossier ${code} in target ${t.name}: 'nightshift backup list ${code}' shows its kept generations and their ids; nothing changed`);
          }
          const shown = `generation ${chosen.id} of dossier ${code}, taken ${operatorDateTime(chosen.snapshotAt, zone)} (${zone}), ${chosen.kind}, ${sizeText(chosen.size)}, ${chosen.verifyState}`;
          if (flags.undo) {
            const changed = await markForgotten(pool, chosen.id, null);
            return { code, generationId: chosen.id, forgotten: false, changed, text: changed ? `${shown}: no longer forgotten; retention decides it again` : `${shown} was not forgotten: nothing changed` };
          }
          if (chosen.forgottenAt) {
            return { code, generationId: chosen.id, forgotten: true, changed: false, text: `${shown} is already forgotten (${operatorDateTime(chosen.forgottenAt, zone)}, ${chosen.forgottenBy ?? '?'}): the next prune deletes it` };
          }
          // never the last one of its kind a restore can read here (R-BK-11): its file or copy sound, its key given on this
          // host; the ones forgotten before count as gone (drill F2, session 37: forgetting two in turn, or the only one
          // under a key still given, was accepted, and the prune then kept it as the only valid one in silence)
          const given = givenKeyIds(config().backupKeys);
          const readsHere = (g: Generation) => isRestorable(g) && (g.keyId === null || given === undefined || given.has(g.keyId));
          const othersReadable = generations.filter((g) => g.kind === chosen.kind && g.id !== chosen.id && !g.forgottenAt && readsHere(g));
          if (readsHere(chosen) && !othersReadable.length) {
            throw new UsageError(
              `${shown} is the last ${chosen.kind} generation of ${code} a restore can read here (none other of its kind is sound, under a key this host gives, and not forgotten): it is not forgotten (take a new backup of its kind first: '${backupDossierCommand(code, chosen.kind)}'); nothing changed`,
            );
          }
          // what the next prune decides with the mark (a lease, the newest off-site copy keep it a while)
          const retention = await loadRetention(pool, config());
          const marked = generations.map((g) => (g.id === chosen.id ? { ...g, forgottenAt: now } : g));
          const decision = joinDecisions(marked, retention.policies, config().timeZone, now, { offsiteConfigured: config().offsite !== undefined }).find((g) => g.id === chosen.id)!.decision;
          const changed = await markForgotten(pool, chosen.id, forgetter());
          const still = decision.keep ? ` (kept all the same while ${decision.reasons.join(', ')})` : '';
          return {
            code,
            generationId: chosen.id,
            forgotten: true,
            changed,
            text: changed
              ? `${shown} forgotten: the next prune deletes it${still} (after the next batch, or now: 'nightshift backup prune --wait'; 'nightshift backup forget ${code} --id ${chosen.id} --undo' until then)`
              : `${shown} was pruned or forgotten meanwhile: nothing changed`,
          };
        });
        output(flags.json, { target: t.name, ...result }, (v) => v.text);
      }),
    );
}
