import { repairHint } from '../../domain/patch-repair';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../config/config';
import { onlyCodesSchema } from '../../domain/backup-batch';
import { failureTypeOf, FailureType } from '../../domain/failures';
import { estimateSeconds, summaryLines, type DossierPlan, type PlanHistory } from '../../domain/patch-plan';
import { patchSpanText } from '../../domain/patch';
import { terminalSafe } from '../../domain/text';
import { planOverDossiers, planPackages, type PlannedPackage, type RunRefusal } from '../../patches/plan';
import { readPatchDirectory, type PatchPackage } from '../../patches/package';
import { patchDirectoryProblem } from '../../shared-store/marker';
import { planCodesPage } from '../../store/patch/plan-codes-page';
import { planHistory } from '../../store/patch/plan-history';
import { patchPrerequisites } from '../../store/patch/prerequisites';
import { SNAPSHOT_PAGE_SIZE, withReadOnlySnapshot } from '../../store/patch/read-only-snapshot';
import { supervisorRow } from '../../store/patch/supervisor-row';
import { unknownCodes } from '../../store/patch/unknown-codes';
import { namedWithCaseHints } from '../code-hints';
import { folderArgument } from '../patch-dir';
import type { Prerequisite } from '../../workflows/patch-integration.api';
import { EXIT_FAILED, jsonOption, jsonSafe, parseFlag, target, targetOption, withPools, action } from '../context';

/**
 * `nightshift patch plan DIR [--dossiers A,B] [--json]` (R-PI-10): what `patch integrate DIR` would do to
 * every targeted dossier and why, computed by the function the run routes with (domain/patch-plan.ts),
 * in one read-only snapshot: nothing is stored, not even the packages. `--json` prints one document, written
 * to a temporary file as the plan goes (a target may hold 100,000 dossiers) and printed once whole; the
 * text gives the summary by category.
 * Exit 1 when the run would be refused or would fail dossiers (a package or dossier problem the window
 * will not cure); R-PI-2's prerequisites of the moment (a window in progress, no batch running) are
 * reported, not counted: the plan is made before the window.
 */

/** R-PI-2's prerequisites that depend on the moment: the window brings single-user mode, batches end. */
const OF_THE_MOMENT = new Set(['no backup batch', 'no other patch run', 'no rollback', 'maintenance window in progress']);

const RULE_OF: Record<string, string> = {
  [FailureType.PatchStrayFiles]: 'R-PI-1',
  [FailureType.PatchNumbering]: 'R-PI-8',
  [FailureType.ChecksumDrift]: 'R-PI-8',
};

async function write(chunk: string | Uint8Array): Promise<void> {
  if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
}

/**
 * `--json`, kept in a temporary file until the plan is whole, then printed: a plan that fails half-way
 * prints no cut-off document, and memory stays flat whatever the number of dossiers.
 */
async function openSpool() {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'nightshift-plan-'));
  const file = path.join(dir, 'plan.json');
  const handle = await fs.promises.open(file, 'w');
  return {
    put: async (chunk: string) => {
      await handle.write(chunk);
    },
    print: async () => {
      await handle.close();
      for await (const chunk of fs.createReadStream(file)) await write(chunk as Buffer);
    },
    remove: async () => {
      await handle.close().catch(() => {});
      await fs.promises.rm(dir, { recursive: true, force: true });
    },
  };
}

const packageLine = (p: PlannedPackage) =>
  `  ${String(p.number).padStart(6)} ${p.type.padEnd(10)} ${p.checksum.slice(0, 12)}… ${p.source}${p.replacesStored ? ' (replaces the stored one, applied nowhere)' : p.driftHeldBy ? ` (differs from the stored one, which dossier ${p.driftHeldBy} holds: refused, R-PI-8)` : ''}: ${p.description.split('\n')[0]}`;

const prerequisiteLine = (q: Prerequisite) => `  ${q.ok ? 'ok     ' : 'NOT MET'} ${q.name}: ${q.detail}${!q.ok && OF_THE_MOMENT.has(q.name) ? ' (needed when the run starts)' : ''}`;

function dossierRefusals(plan: DossierPlan | null): RunRefusal[] {
  // the refusal's own rule and type (a gap, a drifted checksum: R-PI-8), as `patch integrate` now refuses it before it starts
  return plan?.refusal ? [{ rule: plan.refusal.rule, type: plan.refusal.type, message: `the supervisor ${plan.code} would fail (${plan.refusal.message}): the run would end before any other dossier is touched` }] : [];
}

export function registerPatchPlanCommand(patch: Command): void {
  patch
    .command('plan')
    .description('what "patch integrate DIR" would do to each dossier and why (rule ids), the refusals it would meet and its time; changes nothing')
    .argument('<dir>', 'the directory of patch packages')
    .option('--dossiers <codes>', 'only these dossiers, comma-separated (as integrate --dossiers)')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (dirArg: string, flags: { target?: string; dossiers?: string; json?: boolean }) => {
        const dir = folderArgument('DIR', dirArg);
        const t = target(flags.target);
        const dossiers = flags.dossiers === undefined ? null : parseFlag('--dossiers', onlyCodesSchema, flags.dossiers);
        // the plan reads the packages here, whatever the workers see: a path that is not here is a slip, said as `patch integrate` says it
        if (!fs.existsSync(dir)) throw new UsageError(`no patch directory ${dir}${fs.existsSync(path.dirname(dir)) ? ` (its folder ${path.dirname(dir)} is here, without it)` : ''}`);
        let fromDir: PatchPackage[];
        try {
          fromDir = await readPatchDirectory(dir);
        } catch (err) {
          const type = failureTypeOf(err) ?? FailureType.PatchPackageInvalid;
          const refusal = { rule: RULE_OF[type] ?? 'R-PI-1', type, message: err instanceof Error ? err.message : String(err) };
          if (flags.json) await write(`${jsonSafe(JSON.stringify({ target: t.name, dir, refusals: [refusal], dossiers: [] }, null, 2))}\n`);
          else await write(`${terminalSafe(`patch plan for ${t.name}: the run would be refused at once\n  ${refusal.rule} ${refusal.type}: ${refusal.message}`, { keepLines: true })}\n`);
          return EXIT_FAILED;
        }
        return withPools(t.name, async (pool) => {
          const notShared = await patchDirectoryProblem(pool, t.name, dir);
          const spool = flags.json ? await openSpool() : null;
          try {
            const code = await withReadOnlySnapshot(pool, async (db, releaseLocks) => {
              const refusals: RunRefusal[] = [];
              if (notShared) refusals.push({ rule: 'R-PI-1', type: FailureType.InvalidInput, message: notShared });
              const unknown = dossiers ? await unknownCodes(db, dossiers) : [];
              if (unknown.length) refusals.push({ rule: 'R-PI-3', type: FailureType.UnknownDossier, message: `unknown dossier(s) in ${t.name}: ${(await namedWithCaseHints(db, unknown)).join(', ')}` });
              const prerequisites = await patchPrerequisites(db, t.name);
              for (const q of prerequisites) if (!q.ok && !OF_THE_MOMENT.has(q.name)) refusals.push({ rule: 'R-PI-2', type: FailureType.PatchPrerequisiteFailed, message: `${q.name}: ${q.detail}` });
              const { packages, refusals: drift } = await planPackages(db, fromDir);
              refusals.push(...drift);
              const history: PlanHistory | null = await planHistory(db).then((h) => (h.runs ? h : null));
              const supervisor = await supervisorRow(db);
              const supervisorIncluded = !dossiers || (supervisor !== undefined && dossiers.includes(supervisor.code));

              const head = {
                target: t.name,
                dir,
                patches: { first: packages[0]!.number, last: packages[packages.length - 1]!.number },
                packages: packages.map(({ manifest: _m, ...p }) => p),
                prerequisites,
              };
              let first = true;
              // one document: the head on one line, then one line per dossier, then the summary
              if (spool) await spool.put(`${jsonSafe(JSON.stringify(head)).slice(0, -1)},"dossiers":[`);
              const outcome = await planOverDossiers(db, {
                packages,
                supervisorIncluded,
                // asked for once the page before is planned: the locks its reads took go then (kept to the end, one per dossier table read, they filled the lock table)
                codesPage: async (after, limit) => {
                  await releaseLocks();
                  return planCodesPage(db, dossiers, after, limit);
                },
                pageSize: SNAPSHOT_PAGE_SIZE,
                dictionary: true,
                onDossier: spool
                  ? async (plan) => {
                      await spool.put(`${first ? '' : ','}\n${jsonSafe(JSON.stringify(plan))}`);
                      first = false;
                    }
                  : undefined,
              });
              refusals.push(...dossierRefusals(outcome.supervisor?.plan ?? null));
              const s = outcome.summary;
              const failing = refusals.length > 0 || s.refused > 0;
              if (spool) {
                const tail = {
                  summary: s,
                  supervisor: outcome.supervisor && { code: outcome.supervisor.code, level: outcome.supervisor.level, included: outcome.supervisor.included, toLevel: outcome.supervisorLevel },
                  refusals,
                  estimate: { seconds: estimateSeconds(s.applications, history), history },
                  changed: false,
                };
                await spool.put(`\n],${jsonSafe(JSON.stringify(tail)).slice(1)}\n`);
                return failing ? EXIT_FAILED : undefined;
              }
              const sup = outcome.supervisor;
              const lines = [
                `patch plan for ${t.name}: ${patchSpanText(head.patches)} (${packages.filter((p) => p.source === 'directory').length} from ${dir}, ${packages.filter((p) => p.source === 'stored').length} stored)`,
                ...packages.map(packageLine),
                'prerequisites now (R-PI-2):',
                ...prerequisites.map(prerequisiteLine),
                sup
                  ? sup.included
                    ? `supervisor ${sup.code}: level ${sup.level} → ${outcome.supervisorLevel}, patched first, alone`
                    : `supervisor ${sup.code} is not in the list: treatments stay as they are except in test and specific dossiers (R-PI-3)`
                  : 'no supervisor dossier',
                ...summaryLines(s, history),
                ...(refusals.length ? ['the run would be refused:', ...refusals.map((r) => `  ${r.rule} ${r.type}: ${r.message}`)] : []),
                ...(refusals.some((r) => r.type === FailureType.ChecksumDrift) ? [`  ${repairHint(dir)}`] : []),
                // stopped at the supervisor, the others are never reached: their count would contradict the line above
                s.refused && !outcome.stopsAtSupervisor
                  ? `the run would fail ${s.refused} dossier(s) (R-PI-8 drift or gap, a missing schema): see the refused lines above, --json for each`
                  : failing
                    ? ''
                    : 'no refusal: the run can go ahead once its prerequisites are met',
                'nothing was changed (one read-only snapshot)',
              ].filter(Boolean);
              await write(`${terminalSafe(lines.join('\n'), { keepLines: true })}\n`);
              return failing ? EXIT_FAILED : undefined;
            });
            // printed once the snapshot is over: a slow reader of stdout does not hold its transaction open
            await spool?.print();
            return code;
          } finally {
            await spool?.remove();
          }
        });
      }),
    );
}
