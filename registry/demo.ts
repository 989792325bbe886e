import fs from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { z } from 'zod';
import { targetNameSchema } from '../domain/target';
import { parseInput } from '../domain/validation';
import type { NewDossier } from '../domain/dossier';
import { qualified } from '../db/ident';
import { inTransaction } from '../store/transaction';
import { advanceSequences } from '../store/dossiers/advance-sequences';
import { codesWithPrefix } from '../store/dossiers/codes-with-prefix';
import { copyRows } from '../store/dossiers/copy-rows';
import { insertDossiers } from '../store/dossiers/insert-dossiers';
import { documentsFolder } from './documents';

/**
 * The deterministic demo generator used by `nightshift dossiers demo`, `nightshift dev`, the tests and
 * the benchmarks: realistic French bookkeeping (plan comptable, journals, balanced entries, settings)
 * whose rows depend only on (seed, dossier number, sizeKb), so two runs give equal table checksums.
 */

export interface DemoOptions {
  target: string;
  count: number;
  /** approximate data per dossier (text size of its rows), default 50 */
  sizeKb?: number;
  /** default 1 */
  seed?: number;
  /** code prefix, default 'DEMO' -> DEMO0001.. */
  prefix?: string;
  /** when set, write a few documents per dossier under documentsDir/<target>/<code>/ */
  documentsDir?: string;
  /** called after each transaction with the dossiers created so far and the total asked for */
  onProgress?: (done: number, total: number) => void;
  /** a lane's connection is replaced after this many dossiers (default DOSSIERS_PER_CONNECTION; tests set it low) */
  dossiersPerConnection?: number;
}

/** A code prefix: with at least 4 digits after it, a valid dossier code (domain/dossier.ts: it starts with a letter or a digit). */
export const demoPrefixSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,29}$/, 'a prefix has 1-30 letters, digits, "_" or "-", starting with a letter or a digit');

const demoOptionsSchema = z.object({
  target: targetNameSchema,
  count: z.number().int('count must be a whole number').min(1, 'count must be at least 1').max(1_000_000, 'count is at most 1,000,000'),
  sizeKb: z.number().positive('sizeKb must be positive').max(1_000_000, 'sizeKb is at most 1,000,000').default(50),
  seed: z.number().int('seed must be a whole number').min(0).max(0xffffffff).default(1),
  prefix: demoPrefixSchema.default('DEMO'),
  documentsDir: z.string().min(1).optional(),
});
type ValidDemoOptions = z.infer<typeof demoOptionsSchema>;

/**
 * Parallel connections and dossiers per transaction: enough to keep 2 cores busy. Small dossiers go 25
 * to a transaction (a handful of round trips for all of them, see insertDossiers); each holds ~60 locks
 * until the commit, so 3 lanes stay well inside a default server's lock table (64 x max_connections).
 */
const LANES = 3;
const MAX_PER_TRANSACTION = 25;
/**
 * A lane's connection is replaced after creating this many dossiers: a backend keeps catalog caches for every schema it
 * has created and never shrinks them (workers/resources.ts CONNECTION_MAX_USES). Drill S, 10,000 dossiers on one run:
 * 75 dossiers/s fell to 3/s within five minutes, each backend at ~450 MB; a restart brought the rate back.
 */
const DOSSIERS_PER_CONNECTION = 200;
const BYTES_PER_TRANSACTION = 1_000_000;

export async function generateDemoDossiers(pool: pg.Pool, opts: DemoOptions): Promise<string[]> {
  const o = parseInput(demoOptionsSchema, opts, undefined, 'options');
  const { first, hasSupervisor, width: existingWidth } = await startingPoint(pool, o.prefix);
  // a second run keeps the first one's width (DEMO1000 is followed by DEMO1001, not DEMO01001: the codes of both runs
  // sort together); a first run pads to at least 4 digits, to the last code's when more
  const width = existingWidth ?? Math.max(4, String(first + o.count - 1).length);
  const plans = Array.from({ length: o.count }, (_, i) => {
    const n = first + i;
    return planDossier(o, n, `${o.prefix}${String(n).padStart(width, '0')}`, !hasSupervisor && i === 0);
  });

  const perTx = Math.max(1, Math.min(MAX_PER_TRANSACTION, Math.floor(BYTES_PER_TRANSACTION / (o.sizeKb * 1024))));
  const batches: DossierPlan[][] = [];
  for (let i = 0; i < plans.length; i += perTx) batches.push(plans.slice(i, i + perTx));

  let next = 0;
  let done = 0;
  let failed = false;
  const lane = async () => {
    let client: pg.PoolClient | undefined;
    let created = 0;
    try {
      while (!failed && next < batches.length) {
        const batch = batches[next++]!;
        if (client && created >= (opts.dossiersPerConnection ?? DOSSIERS_PER_CONNECTION)) {
          client.release(true);
          client = undefined;
        }
        client ??= await pool.connect();
        created += batch.length;
        const data = batch.map(buildData);
        const c = client;
        await inTransaction(c, () => writeDossiers(c, batch, data));
        if (o.documentsDir) for (const [i, plan] of batch.entries()) await writeDocuments(o.documentsDir, o.target, plan, data[i]!);
        done += batch.length;
        opts.onProgress?.(done, plans.length);
      }
      client?.release();
    } catch (err) {
      failed = true;
      // a connection whose transaction failed is not given back to the pool as it is
      client?.release(true);
      throw err;
    }
  };
  // a dossier bigger than a transaction's share takes its lane's thread for seconds while its rows are built: a
  // second lane's connection attempt, pending meanwhile, would time out (pools give up connecting after 5 s), so
  // such dossiers go one lane at a time
  const lanes = o.sizeKb * 1024 > BYTES_PER_TRANSACTION ? 1 : LANES;
  const results = await Promise.allSettled(Array.from({ length: Math.min(lanes, batches.length) }, lane));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return plans.map((p) => p.dossier.code);
}

/**
 * Numbering continues after the highest existing code of the prefix, so a second run adds dossiers; `width`: the digits
 * that code was written with (none yet: undefined).
 */
async function startingPoint(pool: pg.Pool, prefix: string): Promise<{ first: number; hasSupervisor: boolean; width?: number }> {
  const rows = await codesWithPrefix(pool, prefix);
  let max = 0;
  let width: number | undefined;
  for (const { code } of rows) {
    const rest = code.slice(prefix.length);
    if (code.toLowerCase().startsWith(prefix.toLowerCase()) && /^\d+$/.test(rest) && Number(rest) >= max) {
      max = Number(rest);
      width = rest.length;
    }
  }
  return { first: max + 1, hasSupervisor: rows.some((r) => r.role === 'supervisor'), width };
}

// ---------------------------------------------------------------------------------------------
// Deterministic data

/** mulberry32: tiny, fast and good enough for demo data; seeded per dossier. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mix(a: number, b: number): number {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

type Rand = () => number;
const pick = <T>(r: Rand, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
const between = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

const ACTIVITES = [
  'Boulangerie', 'Garage', 'Transports', 'Menuiserie', 'Pharmacie', 'Librairie', 'Plomberie', 'Imprimerie', 'Hôtel',
  'Restaurant', 'Fromagerie', 'Électricité', 'Maçonnerie', 'Agence immobilière', 'Pépinières', 'Domaine', 'Boucherie',
  'Quincaillerie', 'Atelier', 'Cabinet', 'Charpente', 'Coiffure', 'Bureau d\'études', 'Auto-école', 'Fleuriste',
] as const;
const NOMS = [
  'Martin', 'Bernard', 'Dubois', 'Thomas', 'Robert', 'Richard', 'Petit', 'Durand', 'Leroy', 'Moreau', 'Simon', 'Laurent',
  'Lefebvre', 'Michel', 'Garcia', 'David', 'Bertrand', 'Roux', 'Vincent', 'Fournier', 'Morel', 'Girard', 'André',
  'Lefèvre', 'Mercier', 'Dupont', 'Lambert', 'Bonnet', 'François', 'Martinez', 'Legrand', 'Garnier', 'Faure', 'Rousseau',
] as const;
const FORMES = ['SARL', 'SAS', 'EURL', 'SA', '& Fils', 'Frères', 'SASU', 'SNC'] as const;
const VILLES = [
  ['Lyon', '69003'], ['Rennes', '35000'], ['Bordeaux', '33000'], ['Annecy', '74000'], ['Nantes', '44000'], ['Dijon', '21000'],
  ['Tours', '37000'], ['Angers', '49100'], ['Nancy', '54000'], ['Pau', '64000'], ['Colmar', '68000'], ['Niort', '79000'],
] as const;
const RUES = ['rue de la République', 'avenue Jean Jaurès', 'boulevard Victor Hugo', 'rue du Moulin', 'place de la Mairie', 'chemin des Vignes'] as const;
const FOURNISSEURS = [
  'EDF Entreprises', 'Orange Business', 'Bureau Vallée', 'Metro Cash & Carry', 'TotalEnergies', 'La Poste', 'AXA Assurances',
  'Manutan', 'Würth France', 'Point P', 'Rexel', 'Cabinet Durand Expertise', 'SNCF Connect', 'Veolia Eau', 'Leroy Merlin Pro',
] as const;

const companyName = (r: Rand): string => `${pick(r, ACTIVITES)} ${pick(r, NOMS)} ${pick(r, FORMES)}`;

/** Plan comptable général: the accounts every demo dossier starts with (nature: Actif, Passif, Charge, pRoduit, Tiers). */
const PLAN_COMPTABLE: readonly (readonly [string, string, 'A' | 'P' | 'C' | 'R' | 'T'])[] = [
  ['101300', 'Capital souscrit - appelé, versé', 'P'], ['106100', 'Réserve légale', 'P'], ['120000', "Résultat de l'exercice (bénéfice)", 'P'],
  ['164000', 'Emprunts auprès des établissements de crédit', 'P'], ['215400', 'Matériel industriel', 'A'],
  ['218200', 'Matériel de transport', 'A'], ['218300', 'Matériel de bureau et matériel informatique', 'A'],
  ['281540', 'Amortissements du matériel industriel', 'A'], ['281830', 'Amortissements du matériel de bureau', 'A'],
  ['370000', 'Stocks de marchandises', 'A'], ['401000', 'Fournisseurs', 'T'], ['411000', 'Clients', 'T'],
  ['421000', 'Personnel - rémunérations dues', 'T'], ['431000', 'Sécurité sociale', 'T'],
  ['445510', 'TVA à décaisser', 'T'], ['445660', 'TVA déductible sur autres biens et services', 'T'], ['445710', 'TVA collectée', 'T'],
  ['512000', 'Banque', 'A'], ['530000', 'Caisse', 'A'], ['601000', 'Achats stockés - matières premières', 'C'],
  ['606100', 'Fournitures non stockables (eau, énergie)', 'C'], ['606300', "Fournitures d'entretien et de petit équipement", 'C'],
  ['606400', 'Fournitures administratives', 'C'], ['607000', 'Achats de marchandises', 'C'], ['613200', 'Locations immobilières', 'C'],
  ['615500', 'Entretien et réparations sur biens mobiliers', 'C'], ['616000', "Primes d'assurances", 'C'], ['622600', 'Honoraires', 'C'],
  ['625100', 'Voyages et déplacements', 'C'], ['626000', 'Frais postaux et de télécommunications', 'C'],
  ['627000', 'Services bancaires et assimilés', 'C'], ['635110', 'Cotisation foncière des entreprises', 'C'],
  ['641000', 'Rémunérations du personnel', 'C'], ['645100', "Cotisations à l'URSSAF", 'C'], ['661100', 'Intérêts des emprunts et dettes', 'C'],
  ['681120', 'Dotations aux amortissements des immobilisations corporelles', 'C'], ['701000', 'Ventes de produits finis', 'R'],
  ['706000', 'Prestations de services', 'R'], ['707000', 'Ventes de marchandises', 'R'], ['708500', 'Ports et frais accessoires facturés', 'R'],
  ['758000', 'Produits divers de gestion courante', 'R'], ['768000', 'Autres produits financiers', 'R'],
];
const JOURNAUX = [
  ['AC', 'Achats', 'achat'], ['VE', 'Ventes', 'vente'], ['BQ', 'Banque Crédit Agricole', 'tresorerie'], ['OD', 'Opérations diverses', 'divers'],
] as const;
const CHARGES_ACHAT = ['601000', '606100', '606300', '606400', '607000', '613200', '615500', '616000', '622600', '625100', '626000'] as const;
const PRODUITS_VENTE = ['701000', '706000', '707000'] as const;
const TAUX_TVA = [2000, 2000, 2000, 1000, 550] as const; // basis points: 20 % most of the time

/** COPY text format: backslash, tab and line breaks must be escaped. */
const esc = (s: string): string => s.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
const money = (cents: number): string => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
const pad2 = (n: number): string => String(n).padStart(2, '0');

interface DossierPlan {
  n: number;
  seed: number;
  sizeBytes: number;
  dossier: NewDossier;
}

/** Flags follow the dossier number so that every demo set of 10+ holds each kind (R-BK-2 selection cases). */
function planDossier(o: ValidDemoOptions, n: number, code: string, supervisor: boolean): DossierPlan {
  const seed = mix(o.seed, n);
  const r = rng(seed);
  const label = supervisor ? 'Dossier de référence' : companyName(r);
  const regular = !supervisor;
  return {
    n,
    seed,
    sizeBytes: Math.round(o.sizeKb * 1024),
    dossier: {
      code,
      label,
      role: supervisor ? 'supervisor' : 'regular',
      copyStatus: regular && n % 5 === 3 ? 'copy' : 'original',
      flags: {
        template: regular && n === 2,
        test: regular && n % 10 === 4,
        specific: regular && n % 10 === 6,
        transferable: !(regular && n % 10 === 9),
      },
    },
  };
}

interface DossierData {
  compte: string;
  journal: string;
  parametre: string;
  ecriture: string;
  ligne: string;
  entries: number;
  ville: string;
  firstSale?: { piece: string; date: string; client: string; ht: number; tva: number; compte: string };
}

function buildData(plan: DossierPlan): DossierData {
  const r = rng(plan.seed ^ 0x5bd1e995);
  const label = plan.dossier.label;
  const [ville, cp] = pick(r, VILLES);
  const societe = {
    raisonSociale: label,
    siret: String(between(r, 100_000_000, 999_999_999)) + String(between(r, 10_000, 99_999)),
    naf: `${between(r, 10, 96)}.${between(r, 10, 99)}${pick(r, ['A', 'B', 'C', 'Z'])}`,
    adresse: { rue: `${between(r, 1, 120)} ${pick(r, RUES)}`, codePostal: cp, ville },
  };
  const parametres: [string, unknown][] = [
    ['devise', { code: 'EUR', decimales: 2 }],
    ['exercice', { debut: '2024-01-01', fin: '2024-12-31', cloture: false }],
    ['numerotation', { AC: 'AC2024-', VE: 'FA2024-' }],
    ['societe', societe],
    ['tva', { regime: 'reel_normal', periodicite: pick(r, ['mensuelle', 'trimestrielle']), taux: [20, 10, 5.5, 2.1] }],
  ];
  const parametre = parametres.map(([k, v]) => `${esc(k)}\t${esc(JSON.stringify(v))}\n`).join('');
  const journal = JOURNAUX.map(([code, lib, type]) => `${code}\t${esc(lib)}\t${type}\n`).join('');

  const kb = plan.sizeBytes / 1024;
  const clients = Array.from({ length: 3 + between(r, 0, Math.min(40, Math.floor(kb / 5))) }, (_, i) => ({
    compte: `411${String(i + 1).padStart(3, '0')}`,
    nom: companyName(r),
  }));
  const fournisseurs = Array.from({ length: 3 + between(r, 0, Math.min(12, Math.floor(kb / 10))) }, (_, i) => ({
    compte: `401${String(i + 1).padStart(3, '0')}`,
    nom: FOURNISSEURS[(i + between(r, 0, FOURNISSEURS.length - 1)) % FOURNISSEURS.length]!,
  }));
  const compte =
    PLAN_COMPTABLE.map(([num, lib, nature]) => `${num}\t${esc(lib)}\t${nature}\n`).join('') +
    [...fournisseurs, ...clients].map((t) => `${t.compte}\t${esc(t.nom)}\tT\n`).join('');

  const ecritures: string[] = [];
  const lignes: string[] = [];
  let bytes = compte.length + journal.length + parametre.length;
  let id = 0;
  const pieces = { AC: 0, VE: 0, BQ: 0, OD: 0 };
  let firstSale: DossierData['firstSale'];
  // Entries until the rows' text reaches the requested size: sizeKb is honoured by construction.
  while (bytes < plan.sizeBytes || id === 0) {
    id++;
    const month = between(r, 1, 12);
    const date = `2024-${pad2(month)}-${pad2(between(r, 1, 28))}`;
    const createdAt = `${date} ${pad2(between(r, 7, 19))}:${pad2(between(r, 0, 59))}:${pad2(between(r, 0, 59))}+00`;
    const kind = r();
    let jnl: keyof typeof pieces;
    let piece: string;
    let libelle: string;
    let lines: [string, number, number][];
    if (kind < 0.35) {
      jnl = 'VE';
      const client = pick(r, clients);
      const ht = between(r, 2_000, 800_000);
      const tva = Math.round((ht * pick(r, TAUX_TVA)) / 10_000);
      const produit = pick(r, PRODUITS_VENTE);
      piece = `FA2024-${String(++pieces.VE).padStart(5, '0')}`;
      libelle = `Facture ${client.nom}`;
      lines = [[client.compte, ht + tva, 0], [produit, 0, ht], ['445710', 0, tva]];
      firstSale ??= { piece, date, client: client.nom, ht, tva, compte: produit };
    } else if (kind < 0.7) {
      jnl = 'AC';
      const f = pick(r, fournisseurs);
      const ht = between(r, 1_000, 300_000);
      const tva = Math.round((ht * pick(r, TAUX_TVA)) / 10_000);
      piece = `AC2024-${String(++pieces.AC).padStart(5, '0')}`;
      libelle = `Facture ${f.nom} n° ${between(r, 10_000, 999_999)}`;
      lines = [[pick(r, CHARGES_ACHAT), ht, 0], ['445660', tva, 0], [f.compte, 0, ht + tva]];
    } else if (kind < 0.92) {
      jnl = 'BQ';
      const amount = between(r, 1_000, 600_000);
      piece = `REL-${pad2(month)}-${String(++pieces.BQ).padStart(4, '0')}`;
      if (r() < 0.5) {
        const client = pick(r, clients);
        libelle = `Virement reçu ${client.nom}`;
        lines = [['512000', amount, 0], [client.compte, 0, amount]];
      } else {
        const f = pick(r, fournisseurs);
        libelle = `Prélèvement ${f.nom}`;
        lines = [[f.compte, amount, 0], ['512000', 0, amount]];
      }
    } else {
      jnl = 'OD';
      piece = `OD-${String(++pieces.OD).padStart(4, '0')}`;
      const amount = between(r, 50_000, 900_000);
      const od = between(r, 0, 2);
      if (od === 0) {
        libelle = `Salaires ${pad2(month)}/2024`;
        const charges = Math.round(amount * 0.42);
        lines = [['641000', amount, 0], ['645100', charges, 0], ['421000', 0, amount], ['431000', 0, charges]];
      } else if (od === 1) {
        libelle = `Frais bancaires ${pad2(month)}/2024`;
        const fees = Math.round(amount / 100);
        lines = [['627000', fees, 0], ['512000', 0, fees]];
      } else {
        libelle = 'Dotation aux amortissements';
        lines = [['681120', amount, 0], [pick(r, ['281540', '281830']), 0, amount]];
      }
    }
    const e = `${id}\t${jnl}\t${date}\t${piece}\t${esc(libelle)}\t${createdAt}\n`;
    ecritures.push(e);
    bytes += e.length;
    lines.forEach(([acc, debit, credit], i) => {
      const l = `${id}\t${i + 1}\t${acc}\t${money(debit)}\t${money(credit)}\n`;
      lignes.push(l);
      bytes += l.length;
    });
  }
  return { compte, journal, parametre, ecriture: ecritures.join(''), ligne: lignes.join(''), entries: id, ville, firstSale };
}

async function writeDossiers(client: pg.PoolClient, plans: DossierPlan[], data: DossierData[]): Promise<void> {
  // loaded before the foreign keys exist: they are then checked once per table, not once per row
  await insertDossiers(client, plans.map((p) => p.dossier), true, async (schemas) => {
    for (const [i, schema] of schemas.entries()) {
      const d = data[i]!;
      await copyRows(client, schema, 'compte', 'numero, libelle, nature', d.compte);
      await copyRows(client, schema, 'journal', 'code, libelle, type', d.journal);
      await copyRows(client, schema, 'parametre', 'cle, valeur', d.parametre);
      await copyRows(client, schema, 'ecriture', 'id, journal, date_ecriture, piece, libelle, created_at', d.ecriture);
      await copyRows(client, schema, 'ligne', 'ecriture_id, n, compte, debit, credit', d.ligne);
    }
    // ids were given explicitly: move the sequences past them so later inserts do not collide
    await advanceSequences(
      client,
      schemas.map((schema) => qualified(schema, 'ecriture')),
      data.map((d) => d.entries),
      'id',
    );
  });
}

/** A few small files per dossier: a text invoice, a company statement and a binary PDF-like bank statement. */
async function writeDocuments(documentsDir: string, target: string, plan: DossierPlan, d: DossierData): Promise<void> {
  const dir = documentsFolder(documentsDir, target, plan.dossier.code);
  await fs.mkdir(dir, { recursive: true });
  const sale = d.firstSale;
  const invoice = sale
    ? [
        `FACTURE ${sale.piece}`,
        `Émetteur : ${plan.dossier.label}`,
        `Client : ${sale.client}`,
        `Date : ${sale.date}`,
        `Compte de produit : ${sale.compte}`,
        `Total HT : ${money(sale.ht)} EUR`,
        `TVA : ${money(sale.tva)} EUR`,
        `Total TTC : ${money(sale.ht + sale.tva)} EUR`,
        '',
      ].join('\n')
    : `Aucune facture de vente pour ${plan.dossier.label}\n`;
  await fs.writeFile(path.join(dir, sale ? `${sale.piece}.txt` : 'facture.txt'), invoice);
  await fs.writeFile(
    path.join(dir, 'statuts.txt'),
    `Statuts de ${plan.dossier.label}\nSiège social : ${d.ville}\nExercice 2024, ${d.entries} écritures.\n`,
  );
  const r = rng(plan.seed ^ 0x27d4eb2f);
  const body = Buffer.alloc(between(r, 2048, 6144));
  for (let i = 0; i < body.length; i++) body[i] = Math.floor(r() * 256);
  await fs.writeFile(path.join(dir, 'releve-bancaire-2024-01.pdf'), Buffer.concat([Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1'), body, Buffer.from('\n%%EOF\n')]));
}
