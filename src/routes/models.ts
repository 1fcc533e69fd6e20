/**
 * Every named model, registered once for all route modules, V1 and V2 (Elysia resolves model
 * names per instance, so each module `.use()`s `models`), in the order of the document's components.
 */
import { Elysia } from 'elysia';
import { V1Error, V2Errors } from '../http/openapi.ts';
import { pristine } from '../http/openapi-document.ts';
import { imageModels } from './v1/images.model.ts';
import { indexModels } from './v1/index.model.ts';
import { pingModels } from './v1/ping.model.ts';
import { repositoryModels } from './v1/repositories.model.ts';
import { searchModels } from './v1/search.model.ts';
import { manifestModels } from './v2/manifests.model.ts';
import { registryModels } from './v2/registry.model.ts';

// the components' order, which openapi.json keeps: ImageId (repositories) first, User (index) last
// among the V1 models, then the V2 ones
const { ImageId, ...repositoryRest } = repositoryModels;
const { User, ...indexRest } = indexModels;
const allModels = {
  V1Error,
  ImageId,
  ...imageModels,
  ...repositoryRest,
  ...indexRest,
  ...searchModels,
  ...pingModels,
  User,
  V2Errors,
  ...manifestModels,
  ...registryModels,
};

type AllModels = typeof allModels;

declare module '../http/openapi.ts' {
  // lets `Reply` and `jsonBody` of http/openapi.ts name every model registered here
  interface Models extends AllModels {}
}

/** Taken at load, before any app compiles (and so mutates) the schemas: see `pristine`. */
export const documentModels = pristine(allModels);

export const models = new Elysia({ name: 'routes.models' }).model(allModels);
