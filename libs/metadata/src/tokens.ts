/** The metadata schema's pool (TypeORM DataSource): statements, transactions, migrations. */
export const METADATA_DATA_SOURCE = Symbol('METADATA_DATA_SOURCE');

/** The schema1 rewrite (Schema1Rewriter); NO_SCHEMA1 when the module is registered without it. */
export const SCHEMA1_REWRITER = Symbol('SCHEMA1_REWRITER');
