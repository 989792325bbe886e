import type { Transporter } from 'nodemailer';
import type { Config } from '../config/config';
import type { TargetPools } from '../workers/resources';

/** What activity factories are given; only workers/ builds these (style.md §3). */
export interface ActivityDeps {
  config: Config;
  pools: TargetPools;
  mail?: Transporter;
}
