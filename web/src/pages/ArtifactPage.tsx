// Skeleton only: the artifact page is being built (issue 31).
export function ArtifactPage({ id }: { id: string }) {
  return <main><h1>Artifact {id}</h1></main>;
}
