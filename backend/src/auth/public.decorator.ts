import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'parley:public';

/** Marks a controller or handler as reachable without a bearer token. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
