import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { memberQuerySdl } from './member-query-sdl';

/** Regenerates api/graphql/member-query.generated.graphql from the MemberQuery proto descriptor. */
writeFileSync(join(__dirname, 'member-query.generated.graphql'), memberQuerySdl());
