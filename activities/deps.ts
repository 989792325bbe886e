import type { Client } from '@temporalio/client';
import type { Transporter } from 'nodemailer';
import type { Config } from '../config/config';
import type { TargetPools } from '../workers/resources';

/** What activity factories are given; only workers/ builds these (style.md §3). */
export interface ActivityDeps {
  config: Config;
  pools: TargetPools;
  mail?: Transporter;
  /**
   * Asks the server whether a run's workflow still runs (R-BK-1: a run is taken over only once its
   * workflow is closed). Without it, a running run is never taken over by an activity.
   */
  temporal?: Client;
}
