/**
 * The fal.ai models the fal back end calls, with the inputs it sends and the outputs it accepts
 * (only the fields it reads; unknown fields pass). Schemas follow each model's page on fal.ai.
 */
import { z } from 'zod';

/** fal's File object: where the output can be downloaded, and what it is. */
const file = z.looseObject({
  url: z.url(),
  content_type: z.string().optional(),
  file_name: z.string().optional(),
  file_size: z.number().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
});

/** Image editing: FLUX.1 Kontext [pro], prompt + reference image → images. */
export const EDIT_IMAGE = 'fal-ai/flux-pro/kontext';
export const editImageOutput = z.looseObject({
  images: z.array(file).min(1),
  has_nsfw_concepts: z.array(z.boolean()).optional(),
});

/** Background removal of one image: BiRefNet v2 → an RGBA PNG. */
export const REMOVE_BACKGROUND = 'fal-ai/birefnet/v2';
export const removeBackgroundOutput = z.looseObject({ image: file });

/** Image → 5-second video: Kling 2.1 standard. */
export const ANIMATE = 'fal-ai/kling-video/v2.1/standard/image-to-video';
export const animateOutput = z.looseObject({ video: file });

/**
 * Video background removal, every frame: VEED, VP9 with an alpha channel. Its `video` is a list
 * (one WebM for vp9); a single file is accepted too.
 */
export const MATTE_VIDEO = 'veed/video-background-removal';
export const matteVideoOutput = z
  .looseObject({ video: z.union([file, z.array(file).min(1)]) })
  .transform((out) => ({ video: Array.isArray(out.video) ? out.video[0]! : out.video }));

export const PROMPTS = {
  cartoonize:
    'Turn this person into a friendly 2D cartoon character with clean bold outlines, flat cel shading and bright colours. ' +
    'Keep their face, hair, clothes and pose recognisable. Plain white background.',
  expand:
    'Show this cartoon character as a full body from head to feet, standing, same style, same face and clothes, ' +
    'centred with a little space around. Plain white background.',
  animate:
    'The cartoon character bounces on the spot and sways cheerfully, then returns to the starting pose. ' +
    'Static camera, plain white background, the whole body stays in frame.',
  animateNegative: 'camera movement, zoom, cut, background change, extra characters, text, blur',
};
