/**
 * Every named model, registered once for all route modules (Elysia resolves model names per
 * instance, so each module `.use()`s `models`), in the order of the document's components.
 */
import { Elysia } from 'elysia';
import { V1Error } from '../../http/openapi.ts';
import { pristine } from '../../http/openapi-document.ts';
import { imageModels } from './images.model.ts';
import { indexModels } from './index.model.ts';
import { pingModels } from './ping.model.ts';
import { repositoryModels } from './repositories.model.ts';
import { searchModels } from './search.model.ts';

// the components' order, which openapi.json keeps: ImageId (repositories) first, User (index) last
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
};

type AllModels = typeof allModels;

declare module '../../http/openapi.ts' {
  // lets `Reply` and `jsonBody` of http/openapi.ts name every model registered here
  interface Models extends AllModels {}
}

/** Taken at load, before any app compiles (and so mutates) the schemas: see `pristine`. */
export const documentModels = pristine(allModels);

export const models = new Elysia({ name: 'routes.models' }).model(allModels);
