package api

// Feature versions (KIP-584) as arus serves them. Kafka finalizes
// metadata.version (and, in 4.x, kraft.version, group.version,
// transaction.version, eligible.leader.replicas.version) in its metadata
// log; arus implements exactly one level of each feature it names, so its
// supported range is that single level and the finalized level equals it.
//
// metadata.version is 21 (3.9-IV0): the newest Kafka level whose metadata
// arus's controller keeps. The next levels add what it does not have:
// 22 (4.0-IV0) bootstraps group.version 1 (the KIP-848 consumer protocol),
// 23 (4.0-IV1) eligible leader replicas in partition records (KIP-966),
// 24 (4.0-IV2) transaction.version 2 (KIP-890). Features arus does not
// implement at all are not advertised, which clients read as level 0.
//
// transaction.version is finalized at 2, as a new Kafka 4.0 cluster
// bootstraps it: clients that know KIP-890 part 2 (franz-go 1.20+, the
// Java producer 4.0+) then end every transaction with an epoch bump
// (EndTxn v5) and let Produce v12+ and TxnOffsetCommit v5+ add partitions
// implicitly; older clients keep the classic protocol, protected by
// KIP-890 part 1 verification. It cannot be changed with UpdateFeatures
// (arus serves one level per feature); the versions behind it are served
// whatever the level.

// feature is one finalized feature arus supports.
type feature struct {
	name  string
	level int16 // the only level supported, and the finalized one
}

// features lists arus's features, in the order ApiVersions shows them.
var features = []feature{
	{name: "metadata.version", level: 21},
	{name: "transaction.version", level: 2},
}

// lookupFeature returns the feature named name.
func lookupFeature(name string) (feature, bool) {
	for _, f := range features {
		if f.name == name {
			return f, true
		}
	}
	return feature{}, false
}
