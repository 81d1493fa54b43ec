/* SPDX-License-Identifier: Apache-2.0 */
/* migrate.h: the `slipway-server migrate` subcommand (copy a SQLite installation to PostgreSQL). */
#ifndef SLIPWAY_MIGRATE_H
#define SLIPWAY_MIGRATE_H

/* argv[0] is "migrate"; returns the process exit status (0 ok, 1 failed or mismatch, 2 usage). */
int migrate_main(int argc, char **argv);

#endif
