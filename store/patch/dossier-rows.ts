/** What the patch engine needs of a dossier (its routing flags, schema and level). */
export interface PatchDossierRow {
  code: string;
  role: 'supervisor' | 'regular';
  is_test: boolean;
  is_specific: boolean;
  schema_name: string;
  patch_level: number;
}
