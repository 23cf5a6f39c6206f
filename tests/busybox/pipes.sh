# pipes.sh - pipelines, sort, wc, head, tr, command substitution, loops.
cd "$1" || exit 9
printf 'pear\napple\nfig\nbanana\n' | sort
printf 'pear\napple\nfig\nbanana\n' | sort -r | head -n 2
echo one two three | wc -w
for i in 3 1 2 10; do echo $i; done | sort -n | tr '\n' ' '
echo
x=$(echo sub | cat | cat)
echo "got $x"
printf 'b 2\na 1\nc 3\n' > t.txt
sort t.txt | while read k v; do echo "$k=$v"; done
sort -k2 -n -r t.txt | head -n 1
cat t.txt t.txt | sort | uniq -c | wc -l
i=0
while [ $i -lt 5 ]; do i=$((i + 1)); done
echo "counted to $i"
echo "$(echo a) $(echo b | tr b c)"
